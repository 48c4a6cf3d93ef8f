/** Grow a volume: available|in-use → extending → the same (or error_extending). */
import { StorageError, isStorageError, toStorageError } from '../../../lib/core/errors.js';
import type { OperationRecord, VolumeRecord, VolumeStatus } from '../../db/records.js';
import type { ServiceDeps } from '../context.js';
import { invalidState, volumeRefOf } from './lookup.js';
import { changedNothing, startOperation } from './operation-runner.js';
import { checkQuota, prepareQuota } from './quota/quotas.js';

const EXTENDABLE = ['available', 'in-use'] as const;

export async function extendVolume(deps: ServiceDeps, vol: VolumeRecord, newSizeGiB: number): Promise<OperationRecord> {
  if (newSizeGiB <= vol.sizeGiB) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `new size ${newSizeGiB} GiB must be greater than the current ${vol.sizeGiB} GiB`, {
      details: { fields: [{ path: 'body.new_size', message: `must be greater than ${vol.sizeGiB}` }] },
    });
  }
  let before: VolumeStatus = vol.status;
  await prepareQuota(deps, vol.projectId);
  return startOperation(deps, {
    kind: 'extend_volume', volumeId: vol.id, projectId: vol.projectId,
    prepare: async (t) => {
      // The growth counts against the project's gigabytes, as Cinder reserves it.
      await checkQuota(deps, vol.projectId, { gigabytes: newSizeGiB - ((await deps.repos.volumes.get(vol.id, t))?.sizeGiB ?? vol.sizeGiB) }, t);
      // in-use: the driver grows it live through the attachment's coordinator (Cinder refuses, bug 1870367).
      before = (await deps.repos.volumes.get(vol.id, t))?.status ?? vol.status;
      if (!(await deps.repos.volumes.transition(vol.id, EXTENDABLE, { status: 'extending' }, t))) {
        const cur = await deps.repos.volumes.get(vol.id, t);
        throw invalidState('volume', vol.id, cur?.status ?? 'deleted', EXTENDABLE);
      }
    },
    work: async (ctx) => {
      const ref = await volumeRefOf(deps, vol);
      try {
        await deps.driver.extendVolume(ref, newSizeGiB, ctx);
      } catch (err) {
        throw await markedIfUnchanged(deps, vol, err);
      }
      return async (t) => deps.repos.volumes.update(vol.id, { status: ref.attachment ? 'in-use' : 'available', sizeGiB: newSizeGiB }, t);
    },
    // Refused before anything changed (a chain that fails verification, a live resize the host
    // refused): the volume keeps its status, no admin reset needed.
    onFailure: async (err, t) => deps.repos.volumes.update(vol.id, {
      status: changedNothing(err) || err.details.refused === true ? before : 'error_extending',
    }, t),
  });
}

/** NO_SPACE, and the info file shows nothing changed: marked `changedNothing` so the volume keeps its status. */
async function markedIfUnchanged(deps: ServiceDeps, vol: VolumeRecord, raw: unknown): Promise<unknown> {
  const err = toStorageError(raw);
  if (!isStorageError(err, 'NO_SPACE')) return raw;
  const tree = await deps.driver.getSnapshotTree(await volumeRefOf(deps, vol)).catch(() => null);
  const unchanged = tree !== null && tree.intent === null && tree.sizeBytes <= vol.sizeGiB * 1024 ** 3;
  return unchanged ? new StorageError('NO_SPACE', err.message, { cause: err.cause ?? err, details: { ...err.details, changedNothing: true } }) : err;
}
