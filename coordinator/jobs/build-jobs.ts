/**
 * From a request to a validated job (nothing persisted, nothing changed in libvirt yet). Every
 * check against the live domain happens here, so a plan that does not match is refused with
 * PLAN_MISMATCH before the job exists.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { MergePlan, NovaDeleteInfo } from '../../lib/protocol/assisted-snapshot.js';
import { StorageError, isStorageError } from '../../lib/core/errors.js';
import type { Clock } from '../clock.js';
import { diskBySerial, parseDomainXml, type LiveDisk, type LiveDomain } from '../domain/disks.js';
import type { LibvirtPort } from '../libvirt/port.js';
import { validateCreate, type InspectOverlay } from '../plans/create-plan.js';
import { planFromNovaDelete, validateMergePlan } from '../plans/merge-plan.js';
import type { VerifyLiveChain } from '../snapshot/preflight.js';
import type { Dialect, MergeJob, QuiescePolicy, SnapshotJob, SnapshotVolume } from './job.js';

export interface BuildDeps {
  port: LibvirtPort;
  clock: Clock;
  inspect: InspectOverlay;
  /**
   * The chain QEMU follows, checked by its headers before a live create or merge
   * (snapshot/preflight.ts verifyLiveChain; always set by server.ts; unit tests of fake domains
   * without files leave it out).
   */
  verifyChain?: VerifyLiveChain;
}

/** The live chain's names and the top's format (file-backed disks only, checked by the plan validators). */
function liveChain(disk: LiveDisk): { names: string[]; format: 'qcow2' | 'raw' } {
  const names = disk.chain.map((l) => l.name).filter((n): n is string => n !== null);
  const format = disk.chain[0]?.format === 'raw' ? 'raw' : 'qcow2';
  return { names, format };
}

/** Before a live create: the new overlay and the live chain below it, by their headers. */
export async function verifyCreateChain(deps: BuildDeps, disk: LiveDisk, volumeId: string, newPath: string): Promise<void> {
  const live = liveChain(disk).names;
  await deps.verifyChain?.(path.dirname(newPath), volumeId, path.basename(newPath), 'qcow2', [path.basename(newPath), ...live]);
}

export interface Located {
  domainUuid: string;
  dom: LiveDomain;
  disk: LiveDisk;
}

/** The running domain with a disk whose serial is the volume id (Nova's lookup). */
export async function locateVolume(port: LibvirtPort, volumeId: string, instanceUuid?: string): Promise<Located> {
  const candidates = instanceUuid ? [instanceUuid] : await port.runningDomains();
  for (const uuid of candidates) {
    let xml: string;
    try {
      xml = await port.domainXml(uuid);
    } catch (err) {
      // Guests come and go on a compute host: one destroyed since the list holds no disk of ours.
      if (!instanceUuid && isStorageError(err, 'NOT_FOUND')) continue;
      throw err;
    }
    const dom = parseDomainXml(xml);
    if (instanceUuid || dom.disks.some((d) => d.serial === volumeId)) return { domainUuid: dom.uuid || uuid, dom, disk: diskBySerial(dom, volumeId) };
  }
  throw new StorageError('NOT_FOUND', `no running domain on this host has a disk with serial ${volumeId}`, { details: { volumeId } });
}

function common(deps: BuildDeps, id: string, domainUuid: string) {
  const now = deps.clock.now();
  return { id, domainUuid, createdAt: now, updatedAt: now, progress: 0, reported: false };
}

export async function buildMergeJob(deps: BuildDeps, plan: MergePlan, dialect: Dialect, instanceUuid?: string): Promise<MergeJob> {
  const at = await locateVolume(deps.port, plan.volume_id, instanceUuid);
  const { dir } = validateMergePlan(plan, at.disk);
  const live = liveChain(at.disk);
  await deps.verifyChain?.(dir, plan.volume_id, live.names[0] as string, live.format, live.names);
  return { ...common(deps, plan.operation_id, at.domainUuid), kind: 'merge', dialect, plan, target: at.disk.target, dir, state: 'validated' };
}

export async function buildNovaMergeJob(deps: BuildDeps, snapshotId: string, info: NovaDeleteInfo): Promise<MergeJob> {
  const at = await locateVolume(deps.port, info.volume_id);
  return buildMergeJob(deps, planFromNovaDelete(info, snapshotId, at.disk), 'nova', at.domainUuid);
}

export interface AssistedCreate {
  volumeId: string;
  snapshotId: string;
  newFile: string;
  expectedTop?: string;
  operationId: string;
  fencingToken: number;
  quiesce: QuiescePolicy;
  dialect: Dialect;
}

export async function buildAssistedSnapshotJob(deps: BuildDeps, req: AssistedCreate, instanceUuid?: string): Promise<SnapshotJob> {
  const at = await locateVolume(deps.port, req.volumeId, instanceUuid);
  const v = await validateCreate({ volumeId: req.volumeId, newFile: req.newFile, expectedTop: req.expectedTop }, at.disk, deps.inspect);
  await verifyCreateChain(deps, at.disk, req.volumeId, v.newPath);
  const volume: SnapshotVolume = {
    volumeId: req.volumeId, snapshotId: req.snapshotId, operationId: req.operationId, fencingToken: req.fencingToken,
    target: v.target, newFile: req.newFile, newPath: v.newPath, oldTop: v.oldTop,
  };
  return snapshotJob(deps, req.operationId, at.domainUuid, {
    dialect: req.dialect, origin: 'assisted', name: `snapshot-${req.snapshotId}`, volumes: [volume], skipped: [], quiesce: req.quiesce,
  });
}

export function snapshotJob(
  deps: BuildDeps, id: string, domainUuid: string,
  rest: Pick<SnapshotJob, 'dialect' | 'origin' | 'name' | 'volumes' | 'skipped' | 'quiesce'>,
): SnapshotJob {
  return { ...common(deps, id, domainUuid), kind: 'snapshot', ...rest, state: 'validated', frozen: false, quiesced: null };
}

export function newJobId(): string {
  return randomUUID();
}
