/**
 * `qcs volume tree` as a process, on an answer that carries the allocated sizes and dates of
 * GET /v3/volumes/{id}/tree (`allocated_size` and `created_at` on each node, `active_allocated_size`
 * for the active file). Served by a small HTTP server with that answer: the CLI's side is what is
 * tested here (the route's own test measures real files); the real service's answer without the
 * sizes is covered by names-sizes-commands.test.ts.
 */
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli } from '../../../fixtures/cli/spawn-cli.js';

const VOLUME = '7f0c2a52-9d7e-4f53-a2a8-0b3f0d1f6c11';
const S1 = '11111111-2222-4333-8444-555555555555';
const S2 = '66666666-7777-4888-9999-aaaaaaaaaaaa';

const answer = {
  tree: {
    volume_id: VOLUME, format: 'qcow2', active_file: `volume-${VOLUME}.${S2}`, active_parent: S2, active_allocated_size: 1_572_864,
    snapshots: [
      { id: S1, parent: null, hidden: false, owned_file: `volume-${VOLUME}`, size: 1, name: 's1', status: 'available', created_at: '2026-12-07T02:10:00.123Z', allocated_size: 52_428_800 },
      { id: S2, parent: S1, hidden: true, owned_file: `volume-${VOLUME}.${S1}`, size: 2, name: null, status: null, created_at: '2026-12-07T03:00:59.000Z', allocated_size: null },
    ],
  },
};

describe('cli: volume tree with allocated sizes and dates (process)', function () {
  this.timeout(120_000);
  let server: http.Server;
  let url: string;
  const seen: string[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const ok = req.method === 'GET' && req.url === `/v3/volumes/${VOLUME}/tree`;
      res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? answer : { itemNotFound: { code: 404, message: 'no such route', error_code: 'NOT_FOUND' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => { await new Promise((resolve) => server.close(resolve)); });

  it('draws each node with its allocated size and date, the active file with its own', async () => {
    const r = await runCli(['--url', url, 'volume', 'tree', VOLUME]);
    expect(r.code, r.stderr).to.equal(0);
    expect(seen).to.deep.equal([`GET /v3/volumes/${VOLUME}/tree`]);
    expect(r.stdout.trimEnd().split('\n')).to.deep.equal([
      `volume ${VOLUME}`,
      `└─ ${S1} s1 1 GiB (allocated 50.0 MiB) 2026-12-07 02:10 available`,
      `   └─ ${S2} [hidden] 2 GiB 2026-12-07 03:00`,
      `      └─ * active: volume-${VOLUME}.${S2} (allocated 1.5 MiB)`,
    ]);
  });

  it('--json passes the fields through unchanged', async () => {
    const r = await runCli(['--url', url, '--json', 'volume', 'tree', VOLUME]);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal(answer);
  });
});
