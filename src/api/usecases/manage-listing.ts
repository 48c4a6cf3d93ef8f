/**
 * What could be adopted on each share (GET manageable_volumes): the driver's listing, with what
 * only the database knows added (a file of a volume the service already has is not safe to
 * manage, and names that volume as Cinder's `cinder_id`).
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { ManageableListing, ManageableVolume, ManageRef } from '../../../drivers/contract/volume-driver.js';
import type { ServiceDeps } from '../context.js';

export function manageableListing(deps: ServiceDeps): ManageableListing {
  const d = deps.driver as Partial<ManageableListing>;
  if (typeof d.listManageableVolumes !== 'function' || typeof d.describeManageable !== 'function') {
    throw new StorageError('NOT_IMPLEMENTED', `driver ${deps.driver.name} cannot list manageable volumes`);
  }
  return { listManageableVolumes: d.listManageableVolumes.bind(deps.driver), describeManageable: d.describeManageable.bind(deps.driver) };
}

export interface ManageableEntry extends ManageableVolume {
  /** The volume the service has under this id (its files are not manageable), or null. */
  cinderId: string | null;
}

/** A candidate the database already knows (a volume, a deleted volume's id, a snapshot id): the refusal, or null. */
export async function knownToService(deps: ServiceDeps, c: ManageableVolume): Promise<StorageError | null> {
  const row = (await deps.repos.volumes.rowsOf([c.volumeId])).get(c.volumeId);
  if (row) {
    const what = row.deleted ? 'a deleted volume of the service has its id' : `it is volume ${c.volumeId} of the service`;
    return new StorageError('VOLUME_ALREADY_MANAGED', `${c.sourceName} cannot be managed: ${what}`, { details: { volume_id: c.volumeId, deleted: row.deleted } });
  }
  const taken = await deps.repos.snapshots.existingIds(c.snapshotIds);
  if (taken.length > 0) {
    return new StorageError('VOLUME_ALREADY_MANAGED', `${c.sourceName} cannot be managed: snapshot id(s) ${taken.join(', ')} are the service's already`, { details: { snapshot_ids: taken } });
  }
  return null;
}

export async function listManageable(deps: ServiceDeps, share: string | undefined): Promise<ManageableEntry[]> {
  const listing = manageableListing(deps);
  const rows = new Map<string, { deleted: boolean }>();
  const known = async (ids: readonly string[]) => {
    for (const [id, row] of await deps.repos.volumes.rowsOf(ids)) rows.set(id, row);
    return new Set(rows.keys());
  };
  const inspected = await listing.listManageableVolumes({ ...(share !== undefined ? { share } : {}), known });
  const out: ManageableEntry[] = [];
  for (const c of inspected) {
    const row = rows.get(c.volumeId);
    if (row) {
      const message = row.deleted ? 'a deleted volume of the service has this id' : 'already managed';
      out.push({ ...c, problem: { code: 'VOLUME_ALREADY_MANAGED', message }, cinderId: row.deleted ? null : c.volumeId });
      continue;
    }
    const clash = c.problem === null ? await knownToService(deps, c) : null;
    out.push({ ...c, problem: clash ? { code: clash.code, message: clash.message } : c.problem, cinderId: null });
  }
  return out;
}

export async function describeForManage(deps: ServiceDeps, ref: ManageRef): Promise<ManageableVolume> {
  return manageableListing(deps).describeManageable(ref);
}
