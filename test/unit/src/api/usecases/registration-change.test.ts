/** Which compute-host registrations are state changes (audited) and which are heartbeats (pure). */
import { expect } from 'chai';
import { registrationChange } from '../../../../../src/api/usecases/registration-change.js';

const A = { endpoint: 'http://10.0.0.1:8777/', credential: 'credential-of-host-a-0123' };

describe('compute-host registration: a change or a heartbeat', () => {
  it('a new entry is created', () => {
    expect(registrationChange(null, A)).to.equal('created');
  });
  it('the same endpoint and credential again is a heartbeat: unchanged', () => {
    expect(registrationChange(A, { ...A })).to.equal('unchanged');
  });
  it('another endpoint, another credential, or both, is a change, named', () => {
    expect(registrationChange(A, { ...A, endpoint: 'http://10.0.0.2:8777/' })).to.equal('endpoint');
    expect(registrationChange(A, { ...A, credential: `${A.credential}x` })).to.equal('credential');
    // A credential differing in its last character only, or in length only, still differs.
    expect(registrationChange(A, { ...A, credential: 'credential-of-host-a-0124' })).to.equal('credential');
    expect(registrationChange(A, { ...A, credential: A.credential.slice(0, -1) })).to.equal('credential');
    expect(registrationChange(A, { endpoint: 'https://10.0.0.1:8777/', credential: 'another-credential-0123' })).to.equal('endpoint and credential');
  });
});
