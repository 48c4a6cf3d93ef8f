/** A coordinator's answer is hostile input: the files its disk chain names go through the one name rule. */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoordinatorClient } from '../../../../drivers/remotefs/online/coordinator-client.js';
import { isStorageError } from '../../../../lib/core/errors.js';

async function answering(chain: unknown, extra: Record<string, unknown> = {}): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      disk: { instance_uuid: 'i', volume_id: 'v', running: true, target: 'vdb', chain, format: 'qcow2', ...extra },
    })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('coordinator client: the disk chain a coordinator reports', () => {
  const vid = randomUUID();
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => { s.closeAllConnections(); s.close(r); });
  });

  async function disk(chain: unknown, extra?: Record<string, unknown>): Promise<unknown> {
    const s = await answering(chain, extra);
    servers.push(s.server);
    const client = new CoordinatorClient({ endpoint: s.url, token: 't', pollMs: 10 });
    return client.disk(randomUUID(), vid).then((d) => d, (e: unknown) => e);
  }

  it('accepts the volume\'s own files (and unnamed layers)', async () => {
    const chain = [`volume-${vid}.${randomUUID()}`, null, `volume-${vid}`];
    expect(((await disk(chain)) as { chain: unknown }).chain).to.deep.equal(chain);
  });

  for (const bad of ['../../../etc/passwd', '/etc/passwd', `volume-${randomUUID()}`, `json:{"file":"volume-${vid}"}`, `volume-${vid}/x`, 42]) {
    it(`refuses a chain naming ${JSON.stringify(bad)} (FILE_NAME_UNSAFE)`, async () => {
      const err = await disk([`volume-${vid}.${randomUUID()}`, bad]);
      expect(isStorageError(err, 'FILE_NAME_UNSAFE'), String(err)).to.equal(true);
    });
  }

  it('refuses an answer without a chain', async () => {
    expect(isStorageError(await disk('volume-x'), 'INVALID_INPUT')).to.equal(true);
  });

  it('takes how long an unplug has been pending as a non-negative number of ms (or null), refuses anything else', async () => {
    const chain = [`volume-${vid}`];
    for (const ok of [0, 1500, null]) expect(await disk(chain, { unplug_pending_ms: ok })).to.deep.include({ unplug_pending_ms: ok });
    for (const bad of [-1, '5000', true, { ms: 1 }]) {
      expect(isStorageError(await disk(chain, { unplug_pending_ms: bad }), 'INVALID_INPUT'), JSON.stringify(bad)).to.equal(true);
    }
  });
});

describe('coordinator client: a redirecting coordinator', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => { s.closeAllConnections(); s.close(r); });
  });

  async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  for (const status of [301, 302, 303, 307, 308]) {
    it(`does not follow a ${status} (the credential never reaches another endpoint) and changes nothing`, async () => {
      const seen: string[] = [];
      const elsewhere = await listen((req, res) => { seen.push(String(req.headers['x-auth-token'])); req.resume(); res.writeHead(200, { 'content-type': 'application/json' }).end('{"job":{"id":"j","kind":"snapshot","state":"running","progress":0}}'); });
      const registered = await listen((req, res) => { req.resume(); res.writeHead(status, { location: `${elsewhere}${req.url ?? '/'}` }).end(); });
      const client = new CoordinatorClient({ endpoint: registered, token: 'inbound-secret', pollMs: 10, unreachableGraceMs: 0 });
      const errors = await Promise.all([
        client.disk(randomUUID(), randomUUID()).then(() => null, (e: unknown) => e),
        client.job('j').then(() => null, (e: unknown) => e),
      ]);
      for (const err of errors) {
        expect(isStorageError(err, 'COORDINATOR_UNAVAILABLE'), String(err)).to.equal(true);
        expect((err as { details: { refused?: boolean } }).details.refused).to.equal(true);
      }
      expect(seen).to.deep.equal([]);
    });
  }
});

describe('coordinator client: an answer that is not a JSON object', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await new Promise((r) => { server!.closeAllConnections(); server!.close(r); });
    server = undefined;
  });

  for (const [status, body] of [[502, '<html>Bad Gateway</html>'], [200, 'null'], [200, '[1]'], [200, '{"disk":'], [500, '"oops"']] as const) {
    it(`HTTP ${status} ${JSON.stringify(body)}: COORDINATOR_UNAVAILABLE (unreachable: the job may or may not exist)`, async () => {
      server = createServer((req, res) => { req.resume(); res.writeHead(status, { 'content-type': 'text/html' }).end(body); });
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      const client = new CoordinatorClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't', pollMs: 10 });
      for (const err of [await client.disk(randomUUID(), randomUUID()).then(() => null, (e: unknown) => e), await client.job('j').then(() => null, (e: unknown) => e)]) {
        expect(isStorageError(err, 'COORDINATOR_UNAVAILABLE'), String(err)).to.equal(true);
        expect((err as { details: { unreachable?: boolean } }).details.unreachable).to.equal(true);
      }
    });
  }
});
