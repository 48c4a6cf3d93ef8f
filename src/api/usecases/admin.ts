/**
 * Admin overrides (os-reset_status). They change the database only: a reset is how an operator
 * repairs a row after checking the share by hand, so it must not depend on the driver.
 */
import type { AttachStatus, SnapshotRecord, SnapshotStatus, VolumeRecord, VolumeStatus } from '../../db/records.js';
import type { ServiceDeps } from '../context.js';

export async function resetVolumeStatus(deps: ServiceDeps, vol: VolumeRecord, status?: VolumeStatus, attachStatus?: AttachStatus): Promise<void> {
  await deps.repos.volumes.update(vol.id, {
    ...(status !== undefined ? { status } : {}),
    ...(attachStatus !== undefined ? { attachStatus } : {}),
  });
}

export async function resetSnapshotStatus(deps: ServiceDeps, snap: SnapshotRecord, status: SnapshotStatus): Promise<void> {
  await deps.repos.snapshots.update(snap.id, { status });
}
