/**
 * The service with the REAL RemoteFS driver (loaded through the registry) on a local-directory
 * share: files really appear, change and go away on the share, and the info file follows.
 */
import { expect } from 'chai';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { assertConsistent } from '../../../fixtures/consistency.js';
import { BACKENDS, eventually, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

async function findFiles(dir: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.startsWith(prefix)) out.push(path.join(e.parentPath, e.name));
  }
  return out.sort();
}

describe('api with the real RemoteFS driver on a local share (SQLite)', function () {
  this.timeout(120_000);
  let dir: string;
  let svc: RunningService;
  let http: ReturnType<typeof supertest>;
  remotefsServiceHooks(BACKENDS[0] as (typeof BACKENDS)[number], 'qcs-remotefs-', (s) => ({ dir, svc, http } = s));

  const status = async (kind: 'volumes' | 'snapshots', id: string, want: string) => eventually(async () => {
    const r = await http.get(`/v3/${kind}/${id}`).set(auth('alice'));
    const body = r.body[kind === 'volumes' ? 'volume' : 'snapshot'];
    if (body?.status === 'error') throw new Error(`${kind} ${id} went to error`);
    return body?.status === want ? body : undefined;
  }, 60_000);

  it('creates, snapshots, reverts, deletes: the share follows', async () => {
    const created = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'real' } }).expect(202);
    const vid = created.body.volume.id as string;
    await status('volumes', vid, 'available');
    expect((await findFiles(dir, `volume-${vid}`)).map((f) => path.basename(f))).to.include(`volume-${vid}`);

    const s = await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid, name: 's1' } }).expect(202);
    const sid = s.body.snapshot.id as string;
    await status('snapshots', sid, 'available');
    const files = (await findFiles(dir, `volume-${vid}`)).map((f) => path.basename(f));
    expect(files).to.include(`volume-${vid}.${sid}`);
    const info = (await findFiles(dir, `volume-${vid}.info`))[0] as string;
    expect(JSON.parse(await readFile(info, 'utf8')).active).to.equal(`volume-${vid}.${sid}`);

    const tree = await http.get(`/v3/volumes/${vid}/tree`).set(auth('alice')).expect(200);
    expect(tree.body.tree.active_parent).to.equal(sid);

    await http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ revert: { snapshot_id: sid } }).expect(202);
    await status('volumes', vid, 'available');
    expect(JSON.parse(await readFile(info, 'utf8')).active).to.not.equal(`volume-${vid}.${sid}`);

    // The snapshot-metadata flow with this driver: remotefs-snapshot-metadata.test.ts.
    await assertConsistent(svc.deps);

    await http.delete(`/v3/volumes/${vid}?cascade=true`).set(auth('alice')).expect(202);
    await eventually(async () => ((await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).status === 404 ? true : undefined), 60_000);
    expect(await findFiles(dir, `volume-${vid}`)).to.deep.equal([]);
    await assertConsistent(svc.deps);
  });
});
