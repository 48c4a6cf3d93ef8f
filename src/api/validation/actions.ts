/**
 * Action bodies: {"<action name>": <arguments>}, exactly one key. Each action has its schema;
 * an unknown name is a 400 listing the known ones.
 */
import { z } from 'zod';
import { StorageError } from '../../../lib/core/errors.js';
import { UUID_SOURCE } from '../../../lib/core/volume-names.js';
import { format, metadata, name, description, sizeGiB, uuid, volumeFile } from './common.js';
import { parse } from './parse.js';

const empty = z.union([z.null(), z.strictObject({})]);
const connector = z.object({ host: z.string().min(1).max(255) }).catchall(z.unknown())
  .refine((c) => JSON.stringify(c).length <= 4096, 'connector too large');
/**
 * The operation a coordinator reports on: its id, or `<id>~<n>` for a further job of the same
 * operation (drivers/remotefs/online/operation-ids.ts: hidden snapshots collected after a live
 * delete, a clone's temporary snapshot deleted after it was taken).
 */
const operationId = z.string().regex(new RegExp(`^${UUID_SOURCE}(~[1-9][0-9]{0,5})?$`), 'must be a UUID, optionally followed by ~<job number>');
const fencingToken = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const volumeStatus = z.enum(['creating', 'available', 'in-use', 'attaching', 'detaching', 'deleting', 'error', 'error_deleting', 'extending', 'error_extending', 'reverting', 'maintenance']);
const snapshotStatus = z.enum(['creating', 'available', 'deleting', 'error', 'error_deleting']);

export const volumeActions = (maxGiB: number) => ({
  'os-extend': z.strictObject({ new_size: sizeGiB(maxGiB) }),
  'os-reset_status': z.strictObject({
    status: volumeStatus.optional(),
    attach_status: z.enum(['attached', 'detached']).optional(),
    migration_status: z.null().optional(),
  }).refine((v) => v.status !== undefined || v.attach_status !== undefined, 'status or attach_status is required'),
  'os-force_delete': empty,
  'os-unmanage': empty,
  'os-initialize_connection': z.strictObject({ connector }),
  'os-terminate_connection': z.strictObject({ connector }),
  'os-attach': z.strictObject({
    instance_uuid: uuid.nullable().optional(),
    mountpoint: z.string().min(1).max(255),
    mode: z.enum(['rw', 'ro']).optional(),
    host_name: z.string().max(255).nullable().optional(),
    // Accepted only to refuse it with its own code (COORDINATOR_ENDPOINT_REFUSED): the registry names coordinators.
    coordinator_endpoint: z.string().max(255).optional(),
    active_file: volumeFile.optional(),
    format: format.optional(),
  }),
  'os-detach': z.union([z.null(), z.strictObject({ attachment_id: uuid.nullable().optional() })]),
  // The legacy reservation steps (Cinder's volume_actions), on the attachment records.
  'os-reserve': empty,
  'os-unreserve': empty,
  'os-begin_detaching': empty,
  'os-roll_detaching': empty,
  revert: z.strictObject({ snapshot_id: uuid }),
  'os-revert_to_snapshot': z.strictObject({ snapshot_id: uuid }),
  'os-create_snapshot_metadata': z.strictObject({
    snapshot_id: uuid.optional(),
    name: name.optional(),
    description: description.optional(),
    metadata: metadata.optional(),
  }),
  // The file name's rule is the driver's (a bare *.tar name in the share's exports directory: FILE_NAME_UNSAFE).
  'os-export-to-share': z.strictObject({ share: z.string().min(1).max(1024), name: z.string().min(1).max(255), since: uuid.optional() }),
});

/** Cinder's form (Nova sends it) or ours, which carries the operation id and fencing token. */
const cinderStatusUpdate = z.strictObject({
  status: z.enum(['creating', 'available', 'error', 'deleting', 'error_deleting']),
  progress: z.string().regex(/^(100|[1-9]?\d)%$/, 'must be a percentage "0%".."100%"').optional(),
});
const reportStatusUpdate = z.strictObject({
  operation_id: operationId,
  fencing_token: fencingToken,
  status: z.enum(['running', 'committed', 'completed', 'failed']),
  progress: z.number().min(0).max(100),
  active_file: volumeFile.optional(),
  format: format.optional(),
  quiesced: z.boolean().optional(),
  error: z.string().max(4000).optional(),
});

export const snapshotActions = {
  'os-reset_status': z.strictObject({ status: snapshotStatus }),
  'os-force_delete': empty,
  'os-update_snapshot_status': z.union([reportStatusUpdate, cinderStatusUpdate]),
  'os-request_commit': z.strictObject({ operation_id: operationId, fencing_token: fencingToken }),
  'os-finalize_snapshot_metadata': z.strictObject({
    operation_id: operationId,
    fencing_token: fencingToken,
    status: z.enum(['available', 'error']),
    active_file: volumeFile.optional(),
    format: format.optional(),
    error: z.string().max(4000).optional(),
  }),
  'os-delete_snapshot_metadata': empty,
};

export type VolumeActionSchemas = ReturnType<typeof volumeActions>;
export type SnapshotActionSchemas = typeof snapshotActions;

/** The action's name: the body's one key, which must be a known action (400 otherwise). */
export function actionNameOf<T extends Record<string, z.ZodType>>(schemas: T, body: unknown, unsupported: readonly string[] = []): keyof T & string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new StorageError('INVALID_INPUT', 'action body must be a JSON object with one key', { details: { fields: [{ path: 'body', message: 'expected an object' }] } });
  }
  const keys = Object.keys(body);
  const [action] = keys;
  if (keys.length !== 1 || action === undefined) {
    throw new StorageError('INVALID_INPUT', `action body must have exactly one key (it has ${keys.length}) among: ${Object.keys(schemas).join(', ')}`, {
      details: { fields: [{ path: 'body', message: `expected one action, got ${keys.length}` }] },
    });
  }
  if (unsupported.includes(action)) {
    throw new StorageError('ACTION_NOT_SUPPORTED', `action ${action} is not supported by this service`, { details: { action } });
  }
  if (!Object.prototype.hasOwnProperty.call(schemas, action)) {
    throw new StorageError('INVALID_INPUT', `unknown action ${JSON.stringify(action.slice(0, 64))}; known: ${Object.keys(schemas).join(', ')}`, {
      details: { fields: [{ path: 'body', message: 'unknown action' }] },
    });
  }
  return action;
}

/** Split {"name": args} and validate args with that action's schema. */
export function parseAction<T extends Record<string, z.ZodType>>(schemas: T, body: unknown, unsupported: readonly string[] = []): { [K in keyof T]: { name: K; args: z.infer<T[K]> } }[keyof T] {
  const action = actionNameOf(schemas, body, unsupported);
  const args = parse(schemas[action] as z.ZodType, (body as Record<string, unknown>)[action], 'body');
  return { name: action, args } as never;
}
