/**
 * What the Keystone client makes of an Identity API that misbehaves (a stand-in server: the real
 * Keystone cannot be made to answer garbage): every such answer is IDENTITY_UNAVAILABLE, never a
 * valid caller and never a 500.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StorageError } from '../../../../lib/core/errors.js';
import { KeystoneClient } from '../../../../src/api/keystone/client.js';

const future = () => new Date(Date.now() + 3_600_000).toISOString();

describe('Keystone client against a misbehaving Identity API', () => {
  let server: Server;
  let url = '';
  let validation: { status: number; body: string } = { status: 200, body: '' };

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'POST') {
          res.writeHead(201, { 'x-subject-token': 'own-token', 'content-type': 'application/json' });
          res.end(JSON.stringify({ token: { expires_at: future(), user: { id: 'svc' }, project: { id: 'p' }, roles: [{ name: 'service' }] } }));
          return;
        }
        res.writeHead(validation.status, { 'content-type': 'application/json' });
        res.end(validation.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const client = () => new KeystoneClient({ url, username: 'svc', password: 'pw', userDomain: 'Default', project: 'service', projectDomain: 'Default', timeoutMs: 5000 });
  const codeOf = (p: Promise<unknown>) => p.then(() => 'allowed', (e: unknown) => (e instanceof StorageError ? e.code : String(e)));

  it('a valid answer gives the user, project and lower-cased roles', async () => {
    validation = { status: 200, body: JSON.stringify({ token: { expires_at: future(), user: { id: 'u' }, project: { id: 'pA' }, roles: [{ name: 'Member' }] } }) };
    const info = await client().validate('t');
    expect([info?.userId, info?.projectId, info?.roles]).to.deep.equal(['u', 'pA', ['member']]);
  });

  it('404 and 400 mean "not a valid token" (401 for the caller), not an outage', async () => {
    for (const status of [404, 400]) {
      validation = { status, body: '{}' };
      expect(await client().validate('t')).to.equal(null);
    }
  });

  it('a 5xx, a body that is not JSON, or a token without user or expiry: IDENTITY_UNAVAILABLE', async () => {
    for (const v of [
      { status: 500, body: '{}' },
      { status: 200, body: '<html>proxy error</html>' },
      { status: 200, body: JSON.stringify({ token: { project: { id: 'p' } } }) },
    ]) {
      validation = v;
      expect(await codeOf(client().validate('t'))).to.equal('IDENTITY_UNAVAILABLE');
    }
  });

  it('our own token refused twice (401): IDENTITY_UNAVAILABLE after one fresh login', async () => {
    validation = { status: 401, body: '{}' };
    expect(await codeOf(client().validate('t'))).to.equal('IDENTITY_UNAVAILABLE');
  });
});
