import { expect } from 'chai';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MergeJob } from '../../../coordinator/jobs/job.js';
import { JobStore } from '../../../coordinator/state/job-store.js';

function job(id: string, createdAt: number): MergeJob {
  return {
    id, kind: 'merge', dialect: 'ours', state: 'validated', domainUuid: 'd', createdAt, updatedAt: createdAt, progress: 0, reported: false,
    target: 'vdb', dir: '/m', plan: {} as MergeJob['plan'],
  };
}

describe('coordinator: job store', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(path.join(tmpdir(), 'coord-store-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('saves atomically, overwrites, lists oldest first and leaves no temp files', async () => {
    const store = new JobStore(dir);
    await store.save(job('b', 2));
    await store.save(job('a', 1));
    const a = job('a', 1);
    a.state = 'running';
    await store.save(a);
    const listed = await store.list();
    expect(listed.map((j) => [j.id, j.state])).to.deep.equal([['a', 'running'], ['b', 'validated']]);
    expect((await readdir(store.dir)).sort()).to.deep.equal(['a.json', 'b.json']);
    await store.remove('a');
    await store.remove('a');
    expect((await store.list()).map((j) => j.id)).to.deep.equal(['b']);
  });

  it('keeps ids that are not file-name safe out of the path', async () => {
    const store = new JobStore(dir);
    await store.save(job('../../etc/passwd', 1));
    const files = await readdir(store.dir);
    expect(files).to.have.length(1);
    expect(files[0]).to.match(/^[0-9a-f]{64}\.json$/);
    expect((await store.load('../../etc/passwd'))?.id).to.equal('../../etc/passwd');
  });

  it('ignores temp files of an interrupted write but refuses a corrupt job file', async () => {
    const store = new JobStore(dir);
    await store.save(job('a', 1));
    await writeFile(path.join(store.dir, '.a.json.123.tmp'), '{"half');
    expect((await store.list()).map((j) => j.id)).to.deep.equal(['a']);
    await writeFile(path.join(store.dir, 'c.json'), '{"half');
    try {
      await store.list();
      expect.fail('listed a corrupt file');
    } catch (err) {
      expect((err as Error).message).to.match(/c\.json/);
    }
  });
});
