/**
 * Per-project access to private volume types (Cinder's os-volume-type-access): admins list, add
 * and remove the projects that may see and use a private type. A public type has no access list:
 * listing it answers 404 and changing it 400, as Cinder does. Project ids are not checked against
 * an identity service (Cinder does not either): access for a project that does not exist yet is
 * simply unused.
 */
import { StorageError } from '../../../../lib/core/errors.js';
import type { VolumeTypeRecord } from '../../../db/repositories/volume-types.js';
import type { ServiceDeps } from '../../context.js';

function publicType(type: VolumeTypeRecord): StorageError {
  return new StorageError('VOLUME_TYPE_PUBLIC', `volume type ${type.name} is public: access is given to private types only`, { details: { volume_type_id: type.id } });
}

export async function typeAccessList(deps: ServiceDeps, type: VolumeTypeRecord): Promise<{ volumeTypeId: string; projectId: string }[]> {
  if (type.isPublic) {
    throw new StorageError('VOLUME_TYPE_ACCESS_NOT_FOUND', `volume type ${type.name} is public: it has no access list`, { details: { volume_type_id: type.id } });
  }
  return (await deps.repos.volumeTypes.accessOf(type.id)).map((projectId) => ({ volumeTypeId: type.id, projectId }));
}

export async function addTypeAccess(deps: ServiceDeps, type: VolumeTypeRecord, projectId: string): Promise<void> {
  if (type.isPublic) throw publicType(type);
  const outcome = await deps.repos.volumeTypes.addAccess(type.id, projectId);
  if (outcome === 'exists') {
    throw new StorageError('VOLUME_TYPE_ACCESS_EXISTS', `project ${projectId} already has access to volume type ${type.name}`, { details: { volume_type_id: type.id, project_id: projectId } });
  }
  // Made public or deleted since it was read: answered as if read now.
  if (outcome === 'absent') {
    if ((await deps.repos.volumeTypes.get(type.id)) !== null) throw publicType(type);
    throw new StorageError('VOLUME_TYPE_NOT_FOUND', `volume type ${type.id} could not be found`, { details: { volume_type: type.id } });
  }
}

export async function removeTypeAccess(deps: ServiceDeps, type: VolumeTypeRecord, projectId: string): Promise<void> {
  if (type.isPublic) throw publicType(type);
  if (!(await deps.repos.volumeTypes.removeAccess(type.id, projectId))) {
    throw new StorageError('VOLUME_TYPE_ACCESS_NOT_FOUND', `project ${projectId} has no access to volume type ${type.name}`, { details: { volume_type_id: type.id, project_id: projectId } });
  }
}
