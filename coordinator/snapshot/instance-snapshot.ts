/**
 * Compute-initiated snapshot of an instance (the original design): the storage side creates one
 * overlay per file-backed volume (os-create_snapshot_metadata), then ONE freeze and ONE atomic
 * snapshot cover them all. Volumes that are not files on a share are skipped with the reason.
 * Until the commit point nothing is left behind: a failure finalizes every created snapshot as
 * `error`, and the storage side removes its overlay.
 */
import type { Logger } from '../../lib/core/logger.js';
import { StorageError } from '../../lib/core/errors.js';
import { parseDomainXml, type LiveDisk, type LiveDomain } from '../domain/disks.js';
import { fileBacked } from '../domain/file-backed.js';
import { newJobId, snapshotJob, verifyCreateChain, type BuildDeps } from '../jobs/build-jobs.js';
import { describeError } from '../jobs/describe-error.js';
import type { QuiescePolicy, SnapshotJob, SnapshotVolume } from '../jobs/job.js';
import type { CreatedSnapshotMetadata, MetadataApi } from '../metadata/api.js';
import { validateCreate } from '../plans/create-plan.js';
import { isUuid } from '../../lib/core/volume-names.js';

export interface InstanceSnapshotRequest {
  volumes: 'all' | string[];
  name: string;
  quiesce: QuiescePolicy;
  quiesceNote?: string;
}

interface Selection { eligible: LiveDisk[]; skipped: { volumeId: string; reason: string }[] }

function select(dom: LiveDomain, wanted: 'all' | string[]): Selection {
  const disks = wanted === 'all'
    ? dom.disks.filter((d) => d.device === 'disk' && isUuid(d.serial))
    : wanted.map((id) => dom.disks.find((d) => d.serial === id) ?? missing(dom, id));
  const out: Selection = { eligible: [], skipped: [] };
  for (const d of disks) {
    const fb = fileBacked(d, d.serial as string);
    if (fb.ok) out.eligible.push(d); else out.skipped.push({ volumeId: d.serial as string, reason: fb.reason });
  }
  return out;
}

function missing(dom: LiveDomain, id: string): never {
  throw new StorageError('NOT_FOUND', `instance ${dom.uuid} has no disk with serial ${id}`, { details: { volumeId: id } });
}

async function abandon(metadata: MetadataApi, log: Logger, created: CreatedSnapshotMetadata[], err: unknown): Promise<void> {
  for (const c of created) {
    await metadata.finalizeSnapshotMetadata(c.snapshotId, {
      operationId: c.operationId, fencingToken: c.fencingToken, status: 'error', error: describeError(err),
    }).catch((e: unknown) => log.warn({ err: describeError(e), snapshot: c.snapshotId }, 'could not abandon snapshot metadata'));
  }
}

export async function buildInstanceSnapshotJob(
  deps: BuildDeps & { metadata: MetadataApi; log: Logger }, instanceUuid: string, req: InstanceSnapshotRequest,
): Promise<SnapshotJob> {
  const dom = parseDomainXml(await deps.port.domainXml(instanceUuid));
  const { eligible, skipped } = select(dom, req.volumes);
  if (eligible.length === 0) throw new StorageError('CONFLICT', 'no file-backed volume to snapshot', { details: { skipped } });
  const created: CreatedSnapshotMetadata[] = [];
  const volumes: SnapshotVolume[] = [];
  try {
    for (const d of eligible) {
      const md = await deps.metadata.createSnapshotMetadata(d.serial as string, { instanceUuid, name: req.name });
      created.push(md);
      const v = await validateCreate({ volumeId: d.serial as string, newFile: md.newFile }, d, deps.inspect);
      await verifyCreateChain(deps, d, d.serial as string, v.newPath);
      volumes.push({ volumeId: d.serial as string, ...md, target: v.target, newPath: v.newPath, oldTop: v.oldTop });
    }
  } catch (err) {
    await abandon(deps.metadata, deps.log, created, err);
    throw err;
  }
  const job = snapshotJob(deps, newJobId(), dom.uuid || instanceUuid, {
    dialect: 'ours', origin: 'instance', name: req.name, volumes, skipped, quiesce: req.quiesce,
  });
  if (req.quiesceNote) job.quiesceNote = req.quiesceNote;
  return job;
}
