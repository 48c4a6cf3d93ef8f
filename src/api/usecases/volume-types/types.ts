/**
 * Volume types: find one by name or id as the caller may see it, create, delete, and change its
 * extra specs, update its name, description and visibility. Specs are checked by extra-specs.ts
 * before anything is written. Private types are seen and used by admins and by the projects given
 * access (type-access.ts).
 */
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../../../lib/core/errors.js';
import { DEFAULT_TYPE_NAME } from '../../../db/migrations/0007-volume-types-quotas.js';
import type { VolumeTypeRecord } from '../../../db/repositories/volume-types.js';
import { isAdmin, type Caller, type ServiceDeps } from '../../context.js';
import { applySpecs, type AppliedSpecs, type SpecContext } from './extra-specs.js';

export { DEFAULT_TYPE_NAME };

export function specContext(deps: ServiceDeps): SpecContext {
  return {
    backendName: deps.driver.name, defaultFormat: deps.config.storage.volumeFormat,
    shareAddresses: deps.config.storage.shares.map((s) => s.address),
  };
}

function notFound(ref: string): StorageError {
  return new StorageError('VOLUME_TYPE_NOT_FOUND', `volume type ${ref} could not be found`, { details: { volume_type: ref } });
}

/**
 * By id, else by name (what `cinder create --volume-type` sends); a private type is not found
 * for a non-admin whose project was not given access to it (type-access.ts).
 */
export async function visibleType(deps: ServiceDeps, caller: Caller, ref: string): Promise<VolumeTypeRecord> {
  const t = (await deps.repos.volumeTypes.get(ref)) ?? (await deps.repos.volumeTypes.byName(ref));
  if (!t || (!t.isPublic && !isAdmin(caller) && !(await deps.repos.volumeTypes.hasAccess(t.id, caller.projectId)))) throw notFound(ref);
  return t;
}

/** What `cinder type-update` may change; undefined: unchanged. */
export interface TypeUpdate {
  name?: string;
  description?: string | null;
  isPublic?: boolean;
}

/**
 * The default type keeps its name and stays public (it is found by name, and every project uses
 * it); another type's name taken (any case) is VOLUME_TYPE_EXISTS. Nothing changes on a refusal.
 */
export async function updateType(deps: ServiceDeps, type: VolumeTypeRecord, patch: TypeUpdate): Promise<VolumeTypeRecord> {
  if (type.name === DEFAULT_TYPE_NAME && ((patch.name !== undefined && patch.name !== type.name) || patch.isPublic === false)) {
    throw new StorageError('INVALID_INPUT', `the default volume type ${DEFAULT_TYPE_NAME} keeps its name and stays public`, { details: { volume_type_id: type.id, reason: 'DEFAULT_TYPE' } });
  }
  const outcome = await deps.repos.volumeTypes.update(type.id, patch);
  if (outcome === 'absent') throw notFound(type.id);
  if (outcome === 'name-taken') throw new StorageError('VOLUME_TYPE_EXISTS', `a volume type named ${patch.name ?? ''} already exists`, { details: { name: patch.name ?? null } });
  return (await deps.repos.volumeTypes.get(type.id)) ?? (() => { throw notFound(type.id); })();
}

export async function defaultType(deps: ServiceDeps): Promise<VolumeTypeRecord> {
  const t = await deps.repos.volumeTypes.byName(DEFAULT_TYPE_NAME);
  if (!t) throw new StorageError('VOLUME_TYPE_NOT_FOUND', `the default volume type ${DEFAULT_TYPE_NAME} is missing from the database`);
  return t;
}

/** The type a create names (or the default) and what its specs make of the request. */
export async function typeForCreate(deps: ServiceDeps, caller: Caller, ref: string | null): Promise<{ type: VolumeTypeRecord; applied: AppliedSpecs }> {
  const type = ref === null ? await defaultType(deps) : await visibleType(deps, caller, ref);
  return { type, applied: applySpecs(type.extraSpecs, specContext(deps)) };
}

export interface NewTypeInput {
  name: string;
  description: string | null;
  isPublic: boolean;
  extraSpecs: Record<string, string>;
}

export async function createType(deps: ServiceDeps, input: NewTypeInput): Promise<VolumeTypeRecord> {
  applySpecs(input.extraSpecs, specContext(deps));
  const id = randomUUID();
  if (!(await deps.repos.volumeTypes.insert({ id, ...input }))) {
    throw new StorageError('VOLUME_TYPE_EXISTS', `a volume type named ${input.name} already exists`, { details: { name: input.name } });
  }
  return (await deps.repos.volumeTypes.get(id)) as VolumeTypeRecord;
}

export async function deleteType(deps: ServiceDeps, type: VolumeTypeRecord): Promise<void> {
  if (type.name === DEFAULT_TYPE_NAME) throw new StorageError('VOLUME_TYPE_IN_USE', `the default volume type ${DEFAULT_TYPE_NAME} cannot be deleted`, { details: { volume_type_id: type.id } });
  const outcome = await deps.repos.volumeTypes.removeUnlessInUse(type.id);
  if (outcome === 'absent') throw notFound(type.id);
  if (outcome === 'in-use') throw new StorageError('VOLUME_TYPE_IN_USE', `volume type ${type.name} is in use by volumes; delete or retype them first`, { details: { volume_type_id: type.id } });
}

/** The type's specs after the change must all be honoured, or nothing is written. */
export async function setExtraSpecs(deps: ServiceDeps, type: VolumeTypeRecord, specs: Record<string, string>): Promise<VolumeTypeRecord> {
  applySpecs({ ...type.extraSpecs, ...specs }, specContext(deps));
  await deps.repos.volumeTypes.setSpecs(type.id, specs);
  return (await deps.repos.volumeTypes.get(type.id)) ?? (() => { throw notFound(type.id); })();
}

export async function unsetExtraSpec(deps: ServiceDeps, type: VolumeTypeRecord, key: string): Promise<void> {
  if (!(await deps.repos.volumeTypes.unsetSpec(type.id, key))) {
    throw new StorageError('NOT_FOUND', `volume type ${type.id} has no extra spec ${key}`, { details: { volume_type_id: type.id, key } });
  }
}

/** The view's type of each volume: its type's name, the default type for rows without one. */
export async function typeNamesOf(deps: ServiceDeps, typeIds: readonly (string | null)[]): Promise<(id: string | null) => { id: string | null; name: string }> {
  const all = typeIds.length === 0 ? [] : await deps.repos.volumeTypes.list({ includePrivate: true });
  const byId = new Map(all.map((t) => [t.id, t]));
  const dflt = all.find((t) => t.name === DEFAULT_TYPE_NAME);
  return (id) => {
    const t = (id === null ? undefined : byId.get(id)) ?? dflt;
    return t ? { id: t.id, name: t.name } : { id: null, name: DEFAULT_TYPE_NAME };
  };
}
