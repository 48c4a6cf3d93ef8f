/**
 * Create a volume: row `creating` + operation, 202; the driver creates the file; `available` or
 * `error`. The volume type's specs shape the request (or refuse it); the project's quota is
 * checked in the transaction that inserts the row.
 */
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../../lib/core/errors.js';
import type { OperationRecord, VolumeRecord } from '../../db/records.js';
import type { CreatedVolume, OpContext } from '../../../drivers/contract/volume-driver.js';
import { isAdmin, type Caller, type ServiceDeps } from '../context.js';
import { cloneThroughTemporarySnapshot, type CloneRequest } from './clone-attached/run.js';
import { assertNotTemporary } from './clone-attached/temporary-snapshot.js';
import { invalidState, visibleSnapshot, visibleVolume, volumeRefOf } from './lookup.js';
import { startOperation } from './operation-runner.js';
import { checkQuota, prepareQuota } from './quota/quotas.js';
import { typeForCreate } from './volume-types/types.js';

export interface CreateVolumeInput {
  sizeGiB: number;
  name: string | null;
  description: string | null;
  metadata: Record<string, string>;
  bootable: boolean;
  snapshotId: string | null;
  sourceVolumeId: string | null;
  /** A volume type's name or id; null: the default type. */
  volumeType: string | null;
}

const CLONABLE = ['available', 'in-use'];

/** The source (snapshot or volume) is checked up front so a bad id is a 404/400 now, not an error later. */
async function sourceOf(deps: ServiceDeps, caller: Caller, input: CreateVolumeInput) {
  if (input.snapshotId && input.sourceVolumeId) throw new StorageError('INVALID_INPUT', 'give snapshot_id or source_volid, not both');
  if (input.snapshotId) {
    const snap = await visibleSnapshot(deps, caller, input.snapshotId);
    assertNotTemporary(snap, 'create a volume');
    if (snap.status !== 'available') throw new StorageError('INVALID_STATE', `snapshot ${snap.id} is ${snap.status}`);
    if (input.sizeGiB < snap.sizeGiB) throw new StorageError('SIZE_OUT_OF_BOUNDS', `size must be at least the snapshot's ${snap.sizeGiB} GiB`);
    return { kind: 'snapshot' as const, snap, vol: await visibleVolume(deps, caller, snap.volumeId) };
  }
  if (input.sourceVolumeId) {
    const vol = await visibleVolume(deps, caller, input.sourceVolumeId);
    // Detached and available: a copy of its active file. In use: through a temporary snapshot.
    if (!CLONABLE.includes(vol.status)) throw invalidState('volume', vol.id, vol.status, CLONABLE);
    if (input.sizeGiB < vol.sizeGiB) throw new StorageError('SIZE_OUT_OF_BOUNDS', `size must be at least the source's ${vol.sizeGiB} GiB`);
    return { kind: 'volume' as const, vol };
  }
  return null;
}

export async function createVolume(deps: ServiceDeps, caller: Caller, projectId: string, input: CreateVolumeInput): Promise<{ volume: VolumeRecord; operation: OperationRecord }> {
  const source = await sourceOf(deps, caller, input);
  const { type, applied } = await typeForCreate(deps, caller, input.volumeType);
  if (source && applied.preallocation !== undefined && applied.preallocation !== 'off') {
    throw new StorageError('VOLUME_TYPE_SPEC_UNSUPPORTED', `volume type ${type.name} asks for preallocation ${applied.preallocation}, which applies to new empty volumes only (not clones or volumes from snapshots)`, {
      details: { spec: 'qcowshare:preallocation', value: applied.preallocation, volume_type: type.name },
    });
  }
  const id = randomUUID();
  const format = applied.format ?? deps.config.storage.volumeFormat;
  await prepareQuota(deps, projectId);
  // The answer shows the row as inserted (creating), even if the driver is already done.
  let inserted: VolumeRecord | undefined;
  const operation = await startOperation(deps, {
    kind: 'create_volume', volumeId: id, projectId,
    prepare: async (t) => {
      await checkQuota(deps, projectId, { volumes: 1, gigabytes: input.sizeGiB }, t);
      const usable = await deps.repos.volumeTypes.stillUsable(type.id, isAdmin(caller) ? null : caller.projectId, t);
      if (usable !== 'ok') {
        const why = usable === 'absent' ? 'was deleted meanwhile' : `is no longer shared with project ${caller.projectId}`;
        throw new StorageError('VOLUME_TYPE_NOT_FOUND', `volume type ${type.name} ${why}`, { details: { volume_type: type.id } });
      }
      inserted = await deps.repos.volumes.insert({
        id, projectId, userId: caller.userId, name: input.name, description: input.description, sizeGiB: input.sizeGiB,
        status: 'creating', attachStatus: 'detached', providerLocation: null, format, metadata: input.metadata, bootable: input.bootable,
        volumeTypeId: type.id,
      }, t);
    },
    work: async (ctx, op) => {
      const req = { id, sizeGiB: input.sizeGiB, format, preallocation: applied.preallocation, sharePattern: applied.sharePattern };
      let created: CreatedVolume;
      if (source?.kind === 'snapshot') {
        created = await deps.driver.createVolumeFromSnapshot(req, { id: source.snap.id, volumeId: source.vol.id }, await volumeRefOf(deps, source.vol), ctx);
      } else if (source?.kind === 'volume') {
        created = await cloneVolume(deps, { req, operationId: op.id, userId: caller.userId }, source.vol.id, ctx);
      } else {
        created = await deps.driver.createVolume(req, ctx);
      }
      return async (t) => deps.repos.volumes.update(id, { status: 'available', providerLocation: created.providerLocation, format: created.format, sizeGiB: created.sizeGiB }, t);
    },
    onFailure: async (_err, t) => deps.repos.volumes.update(id, { status: 'error' }, t),
  });
  return { volume: inserted as VolumeRecord, operation };
}

/**
 * A clone never copies the file a guest is writing: a source that is not detached now (its row
 * read again, as the background work starts) is cloned through a temporary snapshot.
 */
async function cloneVolume(deps: ServiceDeps, clone: CloneRequest, sourceId: string, ctx: OpContext): Promise<CreatedVolume> {
  const src = await deps.repos.volumes.get(sourceId);
  if (!src) throw new StorageError('VOLUME_NOT_FOUND', `volume ${sourceId} could not be found`, { details: { volume_id: sourceId } });
  if (src.status === 'available' && src.attachStatus === 'detached') return deps.driver.createClonedVolume(clone.req, await volumeRefOf(deps, src), ctx);
  return cloneThroughTemporarySnapshot(deps, clone, src, ctx);
}
