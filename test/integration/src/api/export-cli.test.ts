/** `qcs volume export` and `qcs volume import` against the service with the real driver (SQLite). */
import { expect } from 'chai';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { cliAt } from '../../../fixtures/cli/in-process-cli.js';
import { run } from '../../../../lib/core/process.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

describe('cli: volume export and import (real driver, SQLite)', function () {
  this.timeout(300_000);
  let svc: RunningService;
  let http: ReturnType<typeof supertest>;
  let tmp: string;
  remotefsServiceHooks(BACKENDS[0] as (typeof BACKENDS)[number], 'qcs-export-cli-', (s) => ({ svc, http } = s));
  const waits = apiWaits(() => http);
  before(async () => { tmp = await mkdtemp(path.join(os.tmpdir(), 'qcs-export-cli-out-')); });
  after(async () => { if (tmp) await rm(tmp, { recursive: true, force: true }); });

  const cli = (...args: string[]) => cliAt(svc.url, 'alice', '--json', ...args);

  it('exports to a file that tar lists, and imports it as a new volume with its snapshot', async () => {
    const r = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'cli-src' } }).expect(202);
    const vid = r.body.volume.id as string;
    await waits.settled('volumes', vid, 'available');
    await waits.snapshot(vid);
    const file = path.join(tmp, 'v.tar');
    await cli('volume', 'export', vid, '-o', file, '--no-progress');
    expect((await stat(file)).size).to.be.greaterThan(0);
    const listed = (await run('tar', ['-tf', file])).stdout.trim().split('\n');
    expect(listed[0]).to.equal('manifest.json');
    const out = await cli('volume', 'import', file, '--name', 'cli-copy', '--no-progress');
    const body = JSON.parse(out.join('\n')) as { volume: { id: string; status: string; name: string } };
    expect(body.volume).to.include({ status: 'available', name: 'cli-copy' });
    const tree = (await http.get(`/v3/volumes/${body.volume.id}/tree`).set(auth('alice')).expect(200)).body.tree;
    expect(tree.snapshots).to.have.length(1);
  });

  it('imports an incremental archive onto an earlier import (--onto); onto another volume: IMPORT_BASE_MISMATCH', async () => {
    const r = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'cli-incr' } }).expect(202);
    const vid = r.body.volume.id as string;
    await waits.settled('volumes', vid, 'available');
    const first = await waits.snapshot(vid);
    const full = path.join(tmp, 'full.tar');
    await cli('volume', 'export', vid, '-o', full, '--no-progress');
    const copy = (JSON.parse((await cli('volume', 'import', full, '--no-progress')).join('\n')) as { volume: { id: string } }).volume.id;
    await waits.snapshot(vid);
    const inc = path.join(tmp, 'inc.tar');
    await cli('volume', 'export', vid, '--since', first, '-o', inc, '--no-progress');
    let code = '';
    await cli('volume', 'import', inc, '--onto', vid, '--no-progress').catch((e: { code?: string }) => { code = e.code ?? String(e); });
    expect(code).to.equal('IMPORT_BASE_MISMATCH');
    const out = JSON.parse((await cli('volume', 'import', inc, '--onto', copy, '--no-progress')).join('\n')) as { volume: { id: string; status: string } };
    expect(out.volume).to.include({ id: copy, status: 'available' });
    const tree = (await http.get(`/v3/volumes/${copy}/tree`).set(auth('alice')).expect(200)).body.tree;
    expect(tree.snapshots).to.have.length(2);
  });

  it('a refused import exits with the stable code', async () => {
    const file = path.join(tmp, 'junk.tar');
    await run('sh', ['-c', `head -c 8192 /dev/zero | tr '\\0' A > ${file}`]);
    let code = '';
    await cli('volume', 'import', file, '--no-progress').catch((e: { code?: string }) => { code = e.code ?? String(e); });
    expect(code).to.equal('ARCHIVE_CORRUPT');
  });
});
