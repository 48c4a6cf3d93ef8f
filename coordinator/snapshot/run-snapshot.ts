/**
 * Executes a snapshot job: ONE freeze and ONE atomic snapshotCreateXML over every disk of the
 * job, whatever their number (Nova freezes once per volume).
 *
 *   before:  vdb [B1, Rb]        vdc [C1, Rc]        overlays N_b → B1, N_c → C1 on the share
 *   after:   vdb [N_b, B1, Rb]   vdc [N_c, C1, Rc]   (all disks or none: ATOMIC)
 *
 * Steps re-enter safely after a crash: the live XML says whether the snapshot already happened.
 */
import { CRASH_POINTS, crashPoint } from '../../lib/core/crash-points.js';
import { StorageError } from '../../lib/core/errors.js';
import { parseDomainXml, type LiveDomain } from '../domain/disks.js';
import { StoppedError, saveState, throwIfStopping, type JobContext } from '../jobs/context.js';
import { describeError } from '../jobs/describe-error.js';
import { isFinal, type SnapshotJob } from '../jobs/job.js';
import { reportFinal, reportStatus } from '../jobs/report.js';
import { withQuiesce } from './quiesce.js';
import { SNAPSHOT_FLAGS, snapshotXml } from './snapshot-xml.js';

type Switched = 'all' | 'none' | 'partial';

/** How many of the job's disks already run on their new overlay (top = new file over old top). */
function switched(dom: LiveDomain, job: SnapshotJob): Switched {
  const onOverlay = job.volumes.filter((v) => {
    const d = dom.disks.find((x) => x.target === v.target && x.serial === v.volumeId);
    return d?.chain[0]?.name === v.newFile && d.chain[1]?.name === v.oldTop;
  }).length;
  if (onOverlay === job.volumes.length) return 'all';
  return onOverlay === 0 ? 'none' : 'partial';
}

async function permitStep(ctx: JobContext, job: SnapshotJob): Promise<void> {
  throwIfStopping(ctx);
  if (job.cancelRequested) return saveState(ctx, job, { state: 'cancelled', error: 'cancelled before the commit point' });
  crashPoint(CRASH_POINTS.coordinatorBeforePermit);
  if (job.dialect === 'ours') {
    for (const v of job.volumes) await ctx.metadata.permit(v.snapshotId, v.operationId, v.fencingToken);
  }
  await saveState(ctx, job, { state: 'permitted' });
  crashPoint(CRASH_POINTS.coordinatorAfterPermit);
}

async function takeSnapshot(ctx: JobContext, job: SnapshotJob, dom: LiveDomain): Promise<void> {
  const xml = snapshotXml(job.name, job.volumes.map((v) => ({ target: v.target, overlayPath: v.newPath })), dom.disks.map((d) => d.target));
  const outcome = await withQuiesce({
    port: ctx.port, clock: ctx.clock, log: ctx.log, domainUuid: job.domainUuid,
    policy: job.quiesce, freezeTimeoutMs: ctx.settings.freezeTimeoutMs,
    markFrozen: (frozen) => saveState(ctx, job, frozen ? { frozen, state: 'freezing' } : { frozen }),
  }, () => ctx.port.snapshotCreate(job.domainUuid, xml, SNAPSHOT_FLAGS));
  if (outcome.freezeMs !== undefined) ctx.metrics.observe('coordinator_freeze_ms', outcome.freezeMs);
  job.quiesced = outcome.quiesced;
  if (outcome.note) job.quiesceNote = [job.quiesceNote, outcome.note].filter(Boolean).join('; ');
  job.freezeMs = outcome.freezeMs;
}

/**
 * Freeze, snapshot, thaw; then check the live XML. Skips the snapshot if it already happened.
 * Under the domain's lock: no other freeze of the guest, and no disk plugged between reading the
 * XML (the snapshot XML lists every disk, the others with snapshot='no') and the snapshot.
 */
function snapshotStep(ctx: JobContext, job: SnapshotJob): Promise<void> {
  return ctx.domainLocks.run(job.domainUuid, () => snapshotLocked(ctx, job));
}

async function snapshotLocked(ctx: JobContext, job: SnapshotJob): Promise<void> {
  throwIfStopping(ctx);
  let dom = parseDomainXml(await ctx.port.domainXml(job.domainUuid));
  let state = switched(dom, job);
  if (state === 'none') {
    try {
      await takeSnapshot(ctx, job, dom);
    } catch (err) {
      // The call may have failed after the switch (connection lost): the live XML decides.
      ctx.log.warn({ err, job: job.id }, 'snapshot call failed; checking the live XML');
      if (switched(parseDomainXml(await ctx.port.domainXml(job.domainUuid)), job) !== 'all') throw err;
    }
    dom = parseDomainXml(await ctx.port.domainXml(job.domainUuid));
    state = switched(dom, job);
  }
  if (state !== 'all') {
    throw new StorageError('BLOCK_JOB_FAILED', `after the snapshot ${state === 'none' ? 'no disk' : 'only some disks'} run on the new overlays`);
  }
  await saveState(ctx, job, { state: 'finalizing', progress: 100 });
}

async function finalizeStep(ctx: JobContext, job: SnapshotJob): Promise<void> {
  await saveState(ctx, job, { state: 'completed', progress: 100 });
}

const STEPS = { validated: permitStep, permitted: snapshotStep, freezing: snapshotStep, finalizing: finalizeStep } as const;

export async function runSnapshot(ctx: JobContext, job: SnapshotJob): Promise<void> {
  try {
    await reportStatus(ctx, job, 'running', 0);
    while (!isFinal(job)) {
      const step = STEPS[job.state as keyof typeof STEPS];
      await step(ctx, job);
    }
  } catch (err) {
    if (err instanceof StoppedError) return;
    ctx.log.error({ err, job: job.id, state: job.state }, 'snapshot failed');
    await saveState(ctx, job, { state: 'failed', error: describeError(err) });
  }
  ctx.metrics.inc('coordinator_jobs_finished_total', { kind: 'snapshot', state: job.state });
  await reportFinal(ctx, job);
}
