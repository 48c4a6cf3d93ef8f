/**
 * Manage (adopt) a volume file made elsewhere, as Cinder's os-volume-manage: admin only.
 *
 *   request:    the file is inspected on its share (whole chain, no link followed) and checked
 *               against the database (its id, its snapshot ids); any refusal answers now with
 *               its stable code and changes nothing; then row `creating` + operation, 202
 *   background: under the volume's lease, the driver checks everything again and adopts it
 *               (a Cinder info file is translated into our tree); the adopted tree is inspected
 *               once more, every file against the tree; then `available` with a row for each
 *               snapshot found, or `error` (the share as it was: the driver writes nothing
 *               before every check passed; unmanage removes the row)
 *
 * Quota: the volume, its snapshots and their gigabytes count against the project's quota in ONE
 * transaction under the project's lock row, the one that inserts the volume row AND a row for each
 * snapshot the listing found (`creating`, each the volume's size, which bounds it: a volume only
 * grows), before anything is adopted: over quota answers 413 and the share is untouched; a create
 * racing the adoption counts them. The adoption's commit sets each row as adopted (its size, hidden
 * flag, available); a tree whose snapshots are not the ones counted fails the manage. A failed
 * manage marks its snapshot rows deleted (the volume `error`; unmanage purges both).
 *
 * The volume keeps the id of its file (`volume-<uuid>` becomes volume `<uuid>`): a chain names
 * its files by that id, so renaming would mean rewriting headers of files we did not make.
 */
import { StorageError, ERROR_CODES, type ErrorCode } from '../../../lib/core/errors.js';
import type { OperationRecord, VolumeRecord } from '../../db/records.js';
import type { ManageableVolume } from '../../../drivers/contract/volume-driver.js';
import type { Caller, ServiceDeps } from '../context.js';
import { describeForManage, knownToService } from './manage-listing.js';
import { startOperation } from './operation-runner.js';
import { checkQuota, prepareQuota } from './quota/quotas.js';

/**
 * What adopting `c` asks of the quota (see above). The listing does not say which snapshots of an
 * unmanaged tree of ours are hidden, so each counts as a snapshot: a refusal errs on the strict side.
 */
export function manageQuotaRequest(c: ManageableVolume): { volumes: number; snapshots: number; gigabytes: number } {
  const sizeGiB = Math.max(1, c.sizeGiB);
  return { volumes: 1, snapshots: c.snapshotIds.length, gigabytes: sizeGiB * (1 + c.snapshotIds.length) };
}

/** The adopted tree holds exactly the snapshots whose rows were counted and inserted (the file changed between the listing and the adoption otherwise). */
export function assertSnapshotsCounted(sourceName: string, counted: readonly string[], adopted: readonly string[]): void {
  const want = [...counted].sort();
  const got = [...adopted].sort();
  if (want.length !== got.length || want.some((x, i) => x !== got[i])) {
    throw new StorageError('INVALID_STATE', `${sourceName} changed between its check and its adoption: its snapshots are not the ones counted`, {
      details: { counted: want, adopted: got },
    });
  }
}

export interface ManageInput {
  share: string;
  sourceName: string;
  name: string | null;
  description: string | null;
  bootable: boolean;
  metadata: Record<string, string>;
}

/**
 * The listing's reason as the refusal, with its own code (a foreign info file: 409
 * INFO_FILE_CORRUPT). What it found is input from whoever wrote the share, so a code that maps to
 * a 5xx answers INVALID_INPUT, naming the original code in details.reason.
 */
function refusal(c: ManageableVolume): StorageError {
  const p = c.problem as { code: string; message: string };
  const known: ErrorCode = p.code in ERROR_CODES ? (p.code as ErrorCode) : 'INVALID_STATE';
  const code: ErrorCode = ERROR_CODES[known].http >= 500 ? 'INVALID_INPUT' : known;
  return new StorageError(code, `${c.sourceName} on ${c.share} cannot be managed: ${p.message}`, { details: { source_name: c.sourceName, share: c.share, reason: p.code } });
}

async function assertAdoptable(deps: ServiceDeps, c: ManageableVolume): Promise<void> {
  if (c.problem !== null) throw refusal(c);
  const known = await knownToService(deps, c);
  if (known) throw known;
}

export async function manageVolume(deps: ServiceDeps, caller: Caller, projectId: string, input: ManageInput): Promise<{ volume: VolumeRecord; operation: OperationRecord }> {
  const ref = { source_name: input.sourceName, share: input.share };
  const found = await describeForManage(deps, ref);
  await assertAdoptable(deps, found);
  const id = found.volumeId;
  await prepareQuota(deps, projectId);
  let inserted: VolumeRecord | undefined;
  const operation = await startOperation(deps, {
    kind: 'manage_volume', volumeId: id, projectId,
    prepare: async (t) => {
      // Again inside the transaction, under the lease: a manage of the same file that finished
      // since the check above must not meet a primary-key violation.
      if ((await deps.repos.volumes.rowsOf([id], t)).size > 0 || (await deps.repos.snapshots.existingIds(found.snapshotIds, t)).length > 0) {
        throw new StorageError('VOLUME_ALREADY_MANAGED', `${input.sourceName} was managed meanwhile`, { details: { volume_id: id } });
      }
      await checkQuota(deps, projectId, manageQuotaRequest(found), t);
      inserted = await deps.repos.volumes.insert({
        id, projectId, userId: caller.userId, name: input.name, description: input.description, sizeGiB: Math.max(1, found.sizeGiB),
        status: 'creating', attachStatus: 'detached', providerLocation: found.share, format: found.format ?? 'qcow2',
        metadata: input.metadata, bootable: input.bootable,
      }, t);
      for (const sid of found.snapshotIds) {
        await deps.repos.snapshots.insert({
          id: sid, volumeId: id, projectId, userId: caller.userId, name: null, description: null, sizeGiB: Math.max(1, found.sizeGiB),
          status: 'creating', progress: 0, metadata: {},
        }, t);
      }
    },
    work: async (ctx) => {
      ctx.onProgress?.(10);
      const created = await deps.driver.manageExisting({ id }, ref, ctx);
      ctx.onProgress?.(70);
      // The adopted tree, every file against it (a Cinder chain was checked before translation;
      // this checks what the translation wrote) before the volume may be opened by anyone.
      const after = await describeForManage(deps, ref);
      if (after.problem !== null || after.kind !== 'own') throw after.problem !== null ? refusal(after) : new StorageError('INVALID_STATE', `${input.sourceName}: no tree after adoption`);
      const tree = await deps.driver.getSnapshotTree({ id, sizeGiB: created.sizeGiB, providerLocation: created.providerLocation });
      ctx.onProgress?.(90);
      assertSnapshotsCounted(input.sourceName, found.snapshotIds, tree.snapshots.map((s) => s.id));
      return async (t) => {
        for (const s of tree.snapshots) {
          await deps.repos.snapshots.update(s.id, { sizeGiB: Math.max(1, Math.ceil(s.sizeBytes / 2 ** 30)), status: 'available', progress: 100, hidden: s.hidden }, t);
        }
        await deps.repos.volumes.update(id, { status: 'available', providerLocation: created.providerLocation, format: created.format, sizeGiB: created.sizeGiB }, t);
      };
    },
    onFailure: async (_err, t) => {
      await deps.repos.snapshots.markDeleted(found.snapshotIds, t);
      await deps.repos.volumes.update(id, { status: 'error' }, t);
    },
  });
  return { volume: inserted as VolumeRecord, operation };
}
