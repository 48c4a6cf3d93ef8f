import { expect } from 'chai';
import { resolveConnection } from '../../../../src/cli/environment.js';
import { tokensUrl, volumeEndpoint } from '../../../../src/cli/keystone-login.js';

describe('cli: an openrc\'s variables', () => {
  const rc = { OS_AUTH_URL: 'https://ks.example:5000', OS_USERNAME: 'ann', OS_PASSWORD: 'pw', OS_PROJECT_NAME: 'web' };

  it('a password login, with the default domain and the public interface unless said', () => {
    const c = resolveConnection({}, rc);
    expect(c.urlGiven).to.equal(false);
    expect(c.login).to.deep.equal({
      authUrl: 'https://ks.example:5000', password: 'pw', interface: 'public',
      user: { name: 'ann', domain: { id: 'default' } }, project: { name: 'web', domain: { id: 'default' } },
    });
    const named = resolveConnection({}, { ...rc, OS_USER_DOMAIN_NAME: 'Corp', OS_PROJECT_DOMAIN_ID: 'd1', OS_ENDPOINT_TYPE: 'internalURL', OS_REGION_NAME: 'r1' }).login;
    expect(named).to.include({ interface: 'internal', region: 'r1' });
    expect(named?.user.domain).to.deep.equal({ name: 'Corp' });
    expect(named?.project.domain).to.deep.equal({ id: 'd1' });
  });

  it('no login when a token is given or the openrc has no password', () => {
    expect(resolveConnection({ token: 't' }, rc).login).to.equal(undefined);
    expect(resolveConnection({}, { ...rc, OS_AUTH_TOKEN: 't' }).login).to.equal(undefined);
    expect(resolveConnection({}, { ...rc, OS_PASSWORD: '' }).login).to.equal(undefined);
  });

  it('the tokens URL with or without /v3; the volume endpoint of the interface and region, from any entry of its type', () => {
    expect(tokensUrl('https://ks:5000')).to.equal('https://ks:5000/v3/auth/tokens');
    expect(tokensUrl('https://ks:5000/v3/')).to.equal('https://ks:5000/v3/auth/tokens');
    const catalog = [
      { type: 'volumev3', endpoints: [{ interface: 'public', region_id: 'r1', url: 'https://a/v3/p' }] },
      { type: 'volumev3', endpoints: [{ interface: 'internal', region_id: 'r2', url: 'http://b-int/v3/p' }, { interface: 'public', region_id: 'r2', url: 'https://b/v3/p' }] },
    ];
    expect(volumeEndpoint(catalog, 'public', 'r2')).to.equal('https://b/v3/p');
    expect(volumeEndpoint(catalog, 'internal')).to.equal('http://b-int/v3/p');
    expect(volumeEndpoint(catalog, 'admin')).to.equal(null);
  });
});
