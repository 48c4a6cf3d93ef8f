/**
 * A checkpoint revert by the volumes' tree rules: before the host restores the guest, each member
 * volume gets its new overlay from the driver (on the file its snapshot owns, an intent in its
 * info file); the host restores onto exactly those overlays; then each volume's tree makes its
 * overlay active (later snapshots and checkpoints stay), and the hidden snapshots the revert left
 * with one dependant are collected as after any revert (their rows go; while the restored guest
 * runs, by a delete operation of their own once the leases are released: collect-live.ts). The volumes' leases are held (renewed)
 * from the prepare to the commit, so no other operation and no recovery pass touches them
 * meanwhile.
 *
 * Crash safety: a refusal or failure the host reports changed nothing there, so the overlays are
 * abandoned. No answer at all (or this service killed): the intents stay and the leases lapse; the
 * attached-volume settle pass (interrupted-attached.ts) decides each from the file the guest's
 * persistent definition names: the overlay forward, the old active file back.
 */
import { randomUUID } from 'node:crypto';
import { StorageError, isStorageError } from '../../../../lib/core/errors.js';
import { keepLease, type LeaseKeeper } from '../../../../lib/core/lease.js';
import { checkpointRevertSupport, type CheckpointRevertSupport } from '../../../../drivers/contract/checkpoint-revert-support.js';
import type { CheckpointRow } from '../../../db/index.js';
import { inTransaction } from '../../../db/transaction.js';
import type { VolumeRecord } from '../../../db/records.js';
import type { ServiceDeps } from '../../context.js';
import { volumeRefOf } from '../lookup.js';
import { acquireVolumeLease } from '../operation-runner.js';
import { collectLeftLive, type LeftHidden } from './collect-live.js';

interface Prepared {
  vol: VolumeRecord;
  snapshotId: string;
  newFile: string | null;
  keeper: LeaseKeeper;
}

export interface MemberReverts {
  /** What the host is told to restore onto: one overlay per member volume (bare names). */
  overlays: { volume_id: string; file: string }[];
  /** The host runs on the overlays: each volume's tree and the database follow. */
  commit(): Promise<void>;
  /** The host changed nothing: the overlays and intents go. */
  abandon(): Promise<void>;
  /** No answer from the host: leave the intents for the settle pass, release the leases. */
  release(): Promise<void>;
}

function ctxOf(p: Prepared) {
  return { lease: p.keeper.lease, signal: p.keeper.signal };
}

async function releaseAll(deps: ServiceDeps, prepared: readonly Prepared[]): Promise<void> {
  for (const p of prepared) await p.keeper.release().catch((err: unknown) => deps.log.warn({ volume: p.vol.id, err: (err as Error).message }, 'could not release a volume lease'));
}

async function abandonAll(deps: ServiceDeps, support: CheckpointRevertSupport, prepared: readonly Prepared[]): Promise<void> {
  for (const p of prepared) {
    if (p.newFile === null) continue;
    await support.abandonCheckpointRevert({ id: p.snapshotId, volumeId: p.vol.id }, await volumeRefOf(deps, p.vol), ctxOf(p)).catch((err: unknown) => {
      deps.log.warn({ volume: p.vol.id, snapshot: p.snapshotId, err: (err as Error).message }, 'could not abandon a checkpoint revert\'s overlay; the attached-volume settle pass will');
    });
  }
}

/**
 * After a volume's commit: the hidden snapshots the revert left with one dependant are collected
 * by the tree rules, as after any revert, and their rows go. The revert itself is done: a failure
 * here is logged and left to the settle, reconcile and ghost-row passes (the merge's intent is in
 * the info file), never reported as a failed revert.
 */
async function collectLeft(deps: ServiceDeps, support: CheckpointRevertSupport, p: Prepared): Promise<LeftHidden[]> {
  try {
    const c = await support.collectAfterCheckpointRevert({ id: p.snapshotId, volumeId: p.vol.id }, await volumeRefOf(deps, p.vol), ctxOf(p));
    await inTransaction(deps.repos.db, async (t) => {
      await deps.repos.snapshots.markDeleted(c.collected, t);
      for (const a of await deps.repos.attachments.activeOf(p.vol.id, t)) await deps.repos.attachments.update(a.id, { activeFile: c.active.file, format: c.active.format }, t);
    });
    if (c.collected.length > 0) deps.log.info({ volume: p.vol.id, collected: c.collected }, 'hidden snapshots collected after a checkpoint revert');
    return (c.left ?? []).map((snapshotId) => ({ volumeId: p.vol.id, snapshotId }));
  } catch (err) {
    deps.log.warn({ volume: p.vol.id, snapshot: p.snapshotId, err: (err as Error).message }, 'could not collect the hidden snapshots a checkpoint revert left; the recovery passes will');
    return [];
  }
}

/**
 * null when the host makes its own overlays: the driver has no such capability, or a member has
 * no snapshot of its volume (taken by a host without the metadata API).
 */
export async function prepareMemberReverts(deps: ServiceDeps, c: CheckpointRow): Promise<MemberReverts | null> {
  const support = checkpointRevertSupport(deps.driver);
  if (support === null || c.volumes.length === 0 || c.volumes.some((m) => m.snapshotId === null)) return null;
  const prepared: Prepared[] = [];
  try {
    for (const m of c.volumes) {
      const vol = await deps.repos.volumes.get(m.volumeId);
      const snap = await deps.repos.snapshots.get(m.snapshotId as string);
      if (!vol || !snap || snap.volumeId !== vol.id) {
        throw new StorageError('CHECKPOINT_VOLUME_GONE', `volume ${m.volumeId} of checkpoint ${c.id} or its snapshot is gone; nothing was changed`, { details: { volume_id: m.volumeId } });
      }
      const lease = await acquireVolumeLease(deps, vol.id, `checkpoint-revert-${randomUUID()}`);
      const p: Prepared = { vol, snapshotId: snap.id, newFile: null, keeper: keepLease(deps.repos.leases, lease, deps.config.storage.leaseTtlMs) };
      prepared.push(p);
      p.newFile = (await support.prepareCheckpointRevert({ id: snap.id, volumeId: vol.id }, await volumeRefOf(deps, vol), ctxOf(p))).newFile;
    }
  } catch (err) {
    await abandonAll(deps, support, prepared);
    await releaseAll(deps, prepared);
    throw err;
  }
  return {
    overlays: prepared.map((p) => ({ volume_id: p.vol.id, file: p.newFile as string })),
    commit: async () => {
      const left: LeftHidden[] = [];
      try {
        for (const p of prepared) {
          const r = await support.commitCheckpointRevert({ id: p.snapshotId, volumeId: p.vol.id }, await volumeRefOf(deps, p.vol), ctxOf(p));
          await inTransaction(deps.repos.db, async (t) => {
            await deps.repos.volumes.update(p.vol.id, { sizeGiB: r.sizeGiB }, t);
            for (const a of await deps.repos.attachments.activeOf(p.vol.id, t)) await deps.repos.attachments.update(a.id, { activeFile: r.activeFile, format: 'qcow2' }, t);
          });
          left.push(...await collectLeft(deps, support, p));
        }
      } finally {
        await releaseAll(deps, prepared);
      }
      // The restored guest runs: its hidden snapshots go by operations of their own, under the volumes' leases.
      await collectLeftLive(deps, left);
    },
    abandon: async () => {
      await abandonAll(deps, support, prepared);
      await releaseAll(deps, prepared);
    },
    release: () => releaseAll(deps, prepared),
  };
}

/**
 * The coordinator's answers that mean the guest still uses its previous files: refused before
 * anything changed, or a restore that failed and was undone (CONFLICT; CHECKPOINT_RESTORE_INCOMPATIBLE
 * when libvirt refused the definition against the memory file's). Only then are the
 * overlays abandoned here; any other failure leaves them to the settle pass, which decides from
 * the file the guest's definition names.
 */
const NOTHING_CHANGED = [
  'CHECKPOINT_MEMORY_UNSAFE', 'CHECKPOINT_DEFINITION_UNSAFE', 'CHECKPOINT_VOLUME_GONE', 'INVALID_INPUT', 'INVALID_ID', 'IMAGE_UNSAFE_BACKING',
  'NOT_FOUND', 'CONFLICT', 'FILE_UNSAFE', 'CHECKPOINT_RESTORE_INCOMPATIBLE',
] as const;

export function hostChangedNothing(err: unknown): boolean {
  return NOTHING_CHANGED.some((code) => isStorageError(err, code));
}
