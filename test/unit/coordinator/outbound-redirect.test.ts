/**
 * The coordinator's service token (and, in a registration, its inbound token) go to the
 * configured storage API only: an answer redirecting elsewhere is not followed.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerOnce } from '../../../coordinator/attach/registration.js';
import { HttpStorageVolumeApi } from '../../../coordinator/attach/storage-api.js';
import { silent } from '../../fixtures/coordinator/context.js';

describe('coordinator: outbound calls to the storage API do not follow redirects', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => { s.closeAllConnections(); s.close(r); });
  });

  async function listen(handler: RequestListener): Promise<string> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function redirectingApi(status: number): Promise<{ api: string; seen: string[] }> {
    const seen: string[] = [];
    const elsewhere = await listen((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => { seen.push(`${String(req.headers['x-auth-token'])} ${body}`); res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); });
    });
    const api = await listen((req, res) => { req.resume(); res.writeHead(status, { location: `${elsewhere}${req.url ?? '/'}` }).end(); });
    return { api, seen };
  }

  for (const status of [302, 307, 308]) {
    it(`self-registration answered ${status}: not registered, nothing sent elsewhere`, async () => {
      const { api, seen } = await redirectingApi(status);
      const ok = await registerOnce({
        metadataApi: api, serviceToken: 'svc-token', hostName: 'c1', endpoint: 'http://127.0.0.1:1/',
        credential: 'inbound-token-0123456789', timeoutMs: 5000, retryMs: 10, log: silent,
      });
      expect(ok).to.equal(false);
      expect(seen).to.deep.equal([]);
    });

    it(`a volume action answered ${status}: refused, nothing sent elsewhere`, async () => {
      const { api, seen } = await redirectingApi(status);
      const client = new HttpStorageVolumeApi({ baseUrl: api, token: 'svc-token', timeoutMs: 5000 });
      const err = await client.detach(randomUUID(), randomUUID()).then(() => null, (e: unknown) => e);
      expect(err).to.be.instanceOf(Error);
      expect(seen).to.deep.equal([]);
    });
  }
});
