/**
 * Import of an instance archive (issue 15 item 4), from a streamed upload (admin):
 *
 *   manifest checked (driver)  -> new ids for the instance, every volume, snapshot and checkpoint;
 *                                 quota checked; intent: one `import_volume` operation row per
 *                                 new volume (running, with its lease, naming the instance in
 *                                 overlay_file), no volume row yet
 *   files written and verified, definitions checked as hostile XML, volumes and the instance's
 *   directory placed on the share (driver)
 *   ONE transaction: volume rows (available), snapshot rows (their checkpoint marks follow the new
 *   checkpoint ids), checkpoint rows (available, on no host yet: a revert names one), the
 *   operations succeeded, the leases released                            <- the commit point
 *
 * volume_share: each named archived volume on its own share (the driver refuses a wrong map before
 * `assign`, so no intent is recorded); its row's provider location is that share.
 *
 * With keep_ids the archive's ids are kept (refused with CONFLICT unless every one is free): a
 * checkpoint's memory state can only be restored into the instance it was taken of, since the
 * domain's uuid, name and every disk's serial (the volume id) are part of the state libvirt
 * checks on restore. With new ids the volumes and disk-only use of the files work; a restore of
 * such a checkpoint is refused by the compute host before anything changes.
 *
 * A refusal: the driver removed its files; the operations are recorded failed. A crash before the
 * commit: the operations stay running with no volume rows; the interrupted-operations pass
 * (settleInterruptedImport) removes every file of each id and the instance's directory.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Transaction } from 'sequelize';
import { CRASH_POINTS, crashPoint } from '../../../../lib/core/crash-points.js';
import { StorageError, isStorageError, toStorageError } from '../../../../lib/core/errors.js';
import { keepLease, type Lease, type LeaseKeeper } from '../../../../lib/core/lease.js';
import type { ExportManifest } from '../../../../drivers/contract/export-manifest.js';
import type { ImportedInstanceArchive, InstanceArchiveManifest, InstanceImportIds } from '../../../../drivers/contract/instance-export-support.js';
import type { OperationRecord } from '../../../db/records.js';
import { inTransaction, isUniqueViolation } from '../../../db/transaction.js';
import type { Caller, ServiceDeps } from '../../context.js';
import { endOperation } from '../../operation-end.js';
import { acquireVolumeLease } from '../operation-runner.js';
import { importQuotaRequest } from '../quota/import-request.js';
import { checkQuota, prepareQuota } from '../quota/quotas.js';
import { CHECKPOINT_METADATA_KEY } from '../snapshot-delete.js';
import { IMPORT_SOURCE_KEY, assertIdsFree } from '../volume-import.js';
import { exportCapability } from '../volume-export.js';
import { instanceExportCapability } from './instance-export.js';

/** overlay_file of an instance import's operations: the instance whose directory a settle removes too. */
export const INSTANCE_IMPORT_TAG = 'instance:';

export interface ImportedInstanceResult {
  instanceUuid: string;
  volumes: { id: string; sourceId: string }[];
  checkpoints: { id: string; sourceId: string; name: string | null }[];
  operations: string[];
}

/** The quota an archive asks: each volume as a volume import asks. */
function quotaOf(m: InstanceArchiveManifest) {
  const total = { volumes: 0, snapshots: 0, gigabytes: 0 };
  for (const b of m.volumes) {
    const q = importQuotaRequest({ volume: b.volume, tree: { snapshots: b.tree.snapshots } } as ExportManifest);
    total.volumes += q.volumes;
    total.snapshots += q.snapshots;
    total.gigabytes += q.gigabytes;
  }
  return total;
}

interface Intent { op: OperationRecord; keeper: LeaseKeeper; lease: Lease }

/**
 * The lease on the instance's uuid an import holds from its intent to its end: volume leases
 * keep two imports of the same volume ids apart, this one two imports placing the same
 * instance's directory (its staging and final names are the uuid's).
 */
export function instanceImportLeaseKey(instanceUuid: string): string {
  return `instance-import:${instanceUuid}`;
}

async function holdInstance(deps: ServiceDeps, instanceUuid: string): Promise<LeaseKeeper> {
  try {
    const lease = await acquireVolumeLease(deps, instanceImportLeaseKey(instanceUuid), `instance-import-${randomUUID()}`);
    return keepLease(deps.repos.leases, lease, deps.config.storage.leaseTtlMs);
  } catch (err) {
    if (!isStorageError(err, 'VOLUME_BUSY')) throw err;
    throw new StorageError('CONFLICT', `another import of instance ${instanceUuid} is under way: import with new ids`, { details: { instance_uuid: instanceUuid }, cause: err });
  }
}

async function recordIntents(deps: ServiceDeps, projectId: string, instanceUuid: string, volumeIds: string[]): Promise<Intent[]> {
  const out: Intent[] = [];
  try {
    for (const volumeId of volumeIds) {
      const opId = randomUUID();
      const lease = await acquireVolumeLease(deps, volumeId, opId);
      const op = await deps.repos.operations.insert({
        id: opId, kind: 'import_volume', volumeId, projectId, snapshotId: null, fencingToken: lease.token, overlayFile: `${INSTANCE_IMPORT_TAG}${instanceUuid}`,
      }).catch(async (err: unknown) => { await deps.repos.leases.release(lease); throw err; });
      const keeper = keepLease(deps.repos.leases, lease, deps.config.storage.leaseTtlMs);
      out.push({ op, keeper, get lease() { return keeper.lease; } });
    }
    return out;
  } catch (err) {
    await endIntents(deps, out, err);
    throw err;
  }
}

async function endIntents(deps: ServiceDeps, intents: Intent[], raw: unknown): Promise<void> {
  const err = toStorageError(raw);
  for (const i of intents) await i.keeper.stop();
  await inTransaction(deps.repos.db, async (t) => {
    for (const i of intents) {
      await endOperation(deps, i.op, { state: 'failed', error: `${err.code}: ${err.message}`, code: err.code, by: { runner: true } }, t, 'any');
      await deps.repos.leases.release(i.lease, t);
    }
  }).catch((e: unknown) => deps.log.warn({ err: e }, 'failed instance import not recorded; the settle pass does it'));
}

async function commitRows(deps: ServiceDeps, caller: Caller, projectId: string, got: ImportedInstanceArchive, intents: Intent[], keepIds: boolean): Promise<void> {
  for (const i of intents) await i.keeper.stop();
  try {
    await inTransaction(deps.repos.db, (t) => insertRows(deps, caller, projectId, got, intents, keepIds, t));
  } catch (err) {
    // A row of a kept id committed by someone else since the check (MariaDB's read view): the same refusal.
    if (isUniqueViolation(err)) {
      throw new StorageError('CONFLICT', 'the archive\'s ids are not free (taken while it was imported): import with new ids', { details: { instance_uuid: got.ids.instanceUuid } });
    }
    throw err;
  }
}

async function insertRows(deps: ServiceDeps, caller: Caller, projectId: string, got: ImportedInstanceArchive, intents: Intent[], keepIds: boolean, t: Transaction): Promise<void> {
  const m = got.manifest;
  const ids = got.ids;
  const newCheckpoint = (old: string | undefined) => (old !== undefined ? ids.checkpoints[old] ?? old : undefined);
  // Checked when the manifest was read, and again here: ids kept are free at the commit.
  if (keepIds) await assertInstanceIdsFree(deps, m, t);
  await checkQuota(deps, projectId, quotaOf(m), t);
  for (const b of m.volumes) {
    const nv = ids.volumes[b.volume.id] as InstanceImportIds['volumes'][string];
    await deps.repos.volumes.insert({
      id: nv.volumeId, projectId, userId: caller.userId, name: b.volume.name, description: b.volume.description,
      sizeGiB: Math.ceil(b.volume.sizeBytes / 1024 ** 3), status: 'available', attachStatus: 'detached', providerLocation: got.volumeShares[nv.volumeId] ?? got.share,
      format: got.formats[nv.volumeId] ?? 'qcow2', metadata: { ...b.volume.metadata, [IMPORT_SOURCE_KEY]: b.volume.id }, bootable: b.volume.bootable,
    }, t);
    for (const s of b.tree.snapshots) {
      const mark = newCheckpoint(s.metadata[CHECKPOINT_METADATA_KEY]);
      await deps.repos.snapshots.insertFound({
        id: nv.snapshots[s.id] as string, volumeId: nv.volumeId, projectId, userId: caller.userId, name: s.name, description: s.description,
        sizeGiB: Math.ceil(s.sizeBytes / 1024 ** 3), status: 'available', progress: 100, hidden: s.hidden,
        metadata: { ...s.metadata, [IMPORT_SOURCE_KEY]: s.id, ...(mark !== undefined ? { [CHECKPOINT_METADATA_KEY]: mark } : {}) },
      }, t);
    }
  }
  for (const c of m.instance.checkpoints) {
    const placed = got.checkpoints.find((p) => p.id === ids.checkpoints[c.id]);
    if (placed === undefined) throw new StorageError('INTERNAL', `checkpoint ${c.id} was not placed`);
    await deps.repos.checkpoints.insert({
      id: placed.id, coordinatorId: placed.id, projectId, instanceUuid: ids.instanceUuid, hostName: '', name: c.name, description: c.description, mode: c.mode,
      status: 'available', memorySize: placed.memorySize, definitionSha256: placed.definitionSha256, volumes: placed.volumes,
    }, new Date(), t);
  }
  for (const i of intents) {
    await endOperation(deps, i.op, { state: 'succeeded', by: { runner: true } }, t, 'any');
    await deps.repos.leases.release(i.lease, t);
  }
}

/** keep_ids: every id of the archive free (volumes, snapshots, checkpoints; the instance has no attachment or checkpoint). */
async function assertInstanceIdsFree(deps: ServiceDeps, m: InstanceArchiveManifest, t?: Transaction): Promise<void> {
  for (const b of m.volumes) await assertIdsFree(deps, { volume: b.volume, tree: { snapshots: b.tree.snapshots } } as ExportManifest, t);
  const uuid = m.instance.uuid.toLowerCase();
  const attached = await deps.repos.attachments.activeOfInstance(uuid, t);
  const checkpoints = (await deps.repos.checkpoints.list(null, uuid, t)).length;
  const taken = [];
  for (const c of m.instance.checkpoints) if (await deps.repos.checkpoints.exists(c.id, t)) taken.push(c.id);
  if (attached.length > 0 || checkpoints > 0 || taken.length > 0) {
    throw new StorageError('CONFLICT', `the archive's ids are not free (instance ${uuid}: ${attached.length} attachment(s), ${checkpoints} checkpoint(s); checkpoint ids taken: ${taken.length}): import with new ids`, {
      details: { instance_uuid: uuid, attachments: attached.length, checkpoints, checkpoint_ids: taken },
    });
  }
}

function keptIds(m: InstanceArchiveManifest): InstanceImportIds {
  return {
    instanceUuid: m.instance.uuid.toLowerCase(),
    volumes: Object.fromEntries(m.volumes.map((b) => [b.volume.id, { volumeId: b.volume.id, snapshots: Object.fromEntries(b.tree.snapshots.map((s) => [s.id, s.id])) }])),
    checkpoints: Object.fromEntries(m.instance.checkpoints.map((c) => [c.id, c.id])),
  };
}

function freshIds(m: InstanceArchiveManifest): InstanceImportIds {
  return {
    instanceUuid: randomUUID(),
    volumes: Object.fromEntries(m.volumes.map((b) => [b.volume.id, { volumeId: randomUUID(), snapshots: Object.fromEntries(b.tree.snapshots.map((s) => [s.id, randomUUID()])) }])),
    checkpoints: Object.fromEntries(m.instance.checkpoints.map((c) => [c.id, randomUUID()])),
  };
}

export async function importInstanceArchive(deps: ServiceDeps, caller: Caller, projectId: string, body: Readable, input: { share: string | null; volumeShares?: Readonly<Record<string, string>>; keepIds?: boolean }): Promise<ImportedInstanceResult> {
  const support = instanceExportCapability(deps);
  let intents: Intent[] = [];
  let hold: LeaseKeeper | null = null;
  let got: ImportedInstanceArchive | null = null;
  await prepareQuota(deps, projectId);
  try {
    got = await support.importInstance(body, {
      share: input.share,
      ...(input.volumeShares ? { volumeShares: input.volumeShares } : {}),
      assign: async (m) => {
        if (input.keepIds === true) await assertInstanceIdsFree(deps, m);
        await inTransaction(deps.repos.db, (t) => checkQuota(deps, projectId, quotaOf(m), t));
        const ids = input.keepIds === true ? keptIds(m) : freshIds(m);
        hold = await holdInstance(deps, ids.instanceUuid);
        intents = await recordIntents(deps, projectId, ids.instanceUuid, Object.values(ids.volumes).map((v) => v.volumeId));
        const [first, ...rest] = intents as [Intent, ...Intent[]];
        return { ...ids, lease: first.lease, heldLeases: rest.map((i) => i.lease) };
      },
    }, {});
    // Files under their final names, the instance's directory placed; no row yet (crash tests stop here).
    crashPoint(CRASH_POINTS.storageBeforeOutcome);
    await commitRows(deps, caller, projectId, got, intents, input.keepIds === true);
    const done = got;
    return {
      instanceUuid: done.ids.instanceUuid,
      volumes: done.manifest.volumes.map((b) => ({ id: (done.ids.volumes[b.volume.id] as { volumeId: string }).volumeId, sourceId: b.volume.id })),
      checkpoints: done.manifest.instance.checkpoints.map((c) => ({ id: done.ids.checkpoints[c.id] as string, sourceId: c.id, name: c.name })),
      operations: intents.map((i) => i.op.id),
    };
  } catch (raw) {
    const err = toStorageError(raw);
    if (got !== null && intents.length > 0) {
      const written = got;
      await support.removeInstanceImport({ instanceUuid: written.ids.instanceUuid, volumeIds: Object.values(written.ids.volumes).map((v) => v.volumeId) }, { lease: intents[0]!.lease, heldLeases: intents.slice(1).map((i) => i.lease) })
        .catch((e: unknown) => deps.log.warn({ err: e }, 'files of an instance import refused at its commit not removed; the settle pass does it'));
    }
    if (intents.length > 0) await endIntents(deps, intents, err);
    throw err;
  } finally {
    const held = hold as LeaseKeeper | null;
    await held?.release().catch((e: unknown) => deps.log.warn({ err: e }, 'instance import lease not released; it expires'));
  }
}

/**
 * The settle pass's part for an interrupted instance import's operation: the instance's directory
 * too, under the instance's import lease (another import of the same uuid under way: VOLUME_BUSY,
 * and the pass retries later). When an import of that uuid has committed since (its operation
 * succeeded, or the instance has checkpoint rows), the directory is that import's: only this
 * operation's volume files go.
 */
export async function removeInterruptedInstance(deps: ServiceDeps, op: OperationRecord, lease: Lease): Promise<number> {
  const tag = op.overlayFile ?? '';
  if (!tag.startsWith(INSTANCE_IMPORT_TAG)) return 0;
  const instanceUuid = tag.slice(INSTANCE_IMPORT_TAG.length);
  const support = instanceExportCapability(deps);
  const own = await acquireVolumeLease(deps, instanceImportLeaseKey(instanceUuid), `settle-${op.id}`);
  try {
    const taken = await deps.repos.operations.succeededWithOverlay(tag) || (await deps.repos.checkpoints.list(null, instanceUuid)).length > 0;
    if (taken) {
      deps.log.info({ operation: op.id, instance: instanceUuid }, "an import of this instance committed since: its directory stays, only the interrupted import's volume files go");
      return await exportCapability(deps).removeVolumeFiles(op.volumeId, { lease });
    }
    return await support.removeInstanceImport({ instanceUuid, volumeIds: [op.volumeId] }, { lease });
  } finally {
    await deps.repos.leases.release(own).catch(() => undefined);
  }
}
