/**
 * The checkpoint job persisted on the share (coordinator/checkpoint/job-record.ts, jobs.ts):
 * written running before the work and with its outcome after, progress kept, and read as hostile
 * input (another checkpoint's job, an unknown state, progress out of range, a symlinked jobs
 * directory are refused).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { logger } from '../../../lib/core/logger.js';
import { jobPath, jobsDir, parseJob } from '../../../coordinator/checkpoint/job-record.js';
import { readJob, runJob } from '../../../coordinator/checkpoint/jobs.js';
import type { CheckpointDeps } from '../../../coordinator/checkpoint/runner.js';

describe('coordinator: persisted checkpoint jobs', () => {
  let share = '';
  let deps: CheckpointDeps;
  const instance = randomUUID();
  const log = logger('test');
  log.level = 'silent';

  beforeEach(async () => {
    share = await mkdtemp(path.join(tmpdir(), 'qcs-ckjob-'));
    deps = { shareMount: share, libvirt: {} as CheckpointDeps['libvirt'], makeOverlay: async () => undefined };
  });
  afterEach(async () => { await rm(share, { recursive: true, force: true }); });

  it('is running while the work runs (with its progress), then succeeded with the outcome', async () => {
    const id = randomUUID();
    let seenWhileRunning: unknown;
    const value = await runJob(deps, log, instance, id, 'revert', async (job) => {
      job.progress(42);
      // Progress writes are serialized behind the first; wait for it to land (a loaded machine's deadline).
      for (const deadline = Date.now() + 30_000; Date.now() < deadline && (await readJob(deps, instance, id))?.progress !== 42;) await new Promise((r) => setTimeout(r, 5));
      seenWhileRunning = await readJob(deps, instance, id);
      return { detachedVolumes: [randomUUID()] };
    }, (r) => ({ detachedVolumes: r.detachedVolumes }), 0);
    expect(seenWhileRunning).to.include({ state: 'running', progress: 42, op: 'revert' });
    const done = await readJob(deps, instance, id);
    expect(done).to.include({ state: 'succeeded', progress: 100 });
    expect(done?.detachedVolumes).to.deep.equal(value.detachedVolumes);
  });

  it('records a failure with its reason and rethrows it', async () => {
    const id = randomUUID();
    const err = await runJob(deps, log, instance, id, 'take', () => Promise.reject(new Error('no such domain'))).then(() => null, (e: Error) => e);
    expect(err?.message).to.equal('no such domain');
    expect(await readJob(deps, instance, id)).to.include({ state: 'failed', error: 'no such domain' });
    expect(await readJob(deps, instance, randomUUID()), 'no job of another checkpoint').to.equal(null);
  });

  it('refuses hostile job files', async () => {
    const id = randomUUID();
    const file = jobPath(share, instance, id);
    const base = { checkpointId: id, instanceUuid: instance, op: 'take', state: 'running', progress: 1 };
    expect(() => parseJob(JSON.stringify({ ...base, checkpointId: randomUUID() }), file, { checkpointId: id, instanceUuid: instance })).to.throw(/another checkpoint/);
    expect(() => parseJob(JSON.stringify({ ...base, state: 'done' }), file, { checkpointId: id, instanceUuid: instance })).to.throw(/unknown state/);
    expect(() => parseJob(JSON.stringify({ ...base, progress: 400 }), file, { checkpointId: id, instanceUuid: instance })).to.throw(/progress/);
    expect(() => parseJob('[', file, { checkpointId: id, instanceUuid: instance })).to.throw(/not JSON/);
    // A jobs directory planted as a symlink is not followed.
    const elsewhere = path.join(share, 'elsewhere');
    fs.mkdirSync(elsewhere);
    fs.mkdirSync(path.dirname(jobsDir(share, instance)), { recursive: true });
    fs.symlinkSync(elsewhere, jobsDir(share, instance));
    fs.writeFileSync(path.join(elsewhere, `${id}.json`), JSON.stringify(base));
    const refused = await readJob(deps, instance, id).then(() => null, (e: { code?: string }) => e);
    expect(refused?.code).to.equal('FILE_UNSAFE');
  });
});
