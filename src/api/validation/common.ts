/** Shared pieces of request schemas. Bounds are explicit so no input reaches the database unchecked. */
import { z } from 'zod';
import { UUID_PATTERN, VOLUME_FILE_PATTERN } from '../../../lib/core/volume-names.js';
import { recordText } from '../../../lib/core/record-text.js';
import type { SortKey } from '../../db/repositories/paging.js';

export const uuid = z.string().regex(UUID_PATTERN, 'must be a UUID')
  .transform((s) => s.toLowerCase());

/** Free text (names, descriptions, metadata): the one rule of lib/core/record-text.ts. */
export const text = recordText;

export const name = text(255).nullable();
export const description = text(255).nullable();

/** Cinder's naming fields of volumes and snapshots: v3's name and description, and the display_ aliases of older clients. */
export const namingFields = {
  name: name.optional(),
  description: description.optional(),
  display_name: name.optional(),
  display_description: description.optional(),
};

interface Naming { name?: string | null; description?: string | null; display_name?: string | null; display_description?: string | null }

/** A create's name and description: the v3 field, else its alias, else none. */
export function createdNaming(b: Naming): { name: string | null; description: string | null } {
  return { name: b.name ?? b.display_name ?? null, description: b.description ?? b.display_description ?? null };
}

/**
 * What an update changes: a v3 field that is present wins over its alias (null clears it, as in
 * Cinder); a field sent under neither name is left as it is.
 */
export function updatedNaming(b: Naming): { name?: string | null; description?: string | null } {
  const n = b.name !== undefined ? b.name : b.display_name;
  const d = b.description !== undefined ? b.description : b.display_description;
  return { ...(n !== undefined ? { name: n } : {}), ...(d !== undefined ? { description: d } : {}) };
}

/**
 * A record of free-text keys: JSON.parse makes "__proto__" an own key of the body, but zod's
 * record drops it without a word (assigning it would set the prototype), so a key the caller sent
 * would vanish from a 200 answer (and a PUT of the whole set would clear it). Nothing could store
 * and return it exactly, so it is refused.
 */
export function freeKeyRecord<T extends z.ZodType>(record: T) {
  return z.unknown()
    .refine((v) => v === null || typeof v !== 'object' || !Object.hasOwn(v, '__proto__'), { message: 'the key "__proto__" is reserved', abort: true })
    .pipe(record);
}

export const metadata = freeKeyRecord(z.record(text(255).min(1), text(255))
  .refine((m) => Object.keys(m).length <= 64, 'at most 64 metadata items'));

/** A size in whole GiB between 1 and the configured maximum. */
export const sizeGiB = (maxGiB: number) => z.number().int('must be a whole number of GiB').min(1).max(maxGiB);

/** Booleans as OpenStack clients send them: JSON booleans or "true"/"false" strings. */
export const looseBool = z.union([z.boolean(), z.enum(['true', 'false', 'True', 'False', '1', '0'])])
  .transform((v) => v === true || v === 'true' || v === 'True' || v === '1');

/** A bare file name of a volume (what the coordinator reports as the active file); checked again against the volume's own id. */
export const volumeFile = z.string().regex(VOLUME_FILE_PATTERN, 'must be a bare volume file name');

export const format = z.enum(['qcow2', 'raw']);

export const pathIds = {
  volume: z.strictObject({ project_id: z.string().optional(), volume_id: uuid }),
  snapshot: z.strictObject({ project_id: z.string().optional(), snapshot_id: uuid }),
  operation: z.strictObject({ project_id: z.string().optional(), operation_id: uuid }),
};

const SORT_KEYS: Record<string, string> = {
  created_at: 'createdAt', updated_at: 'updatedAt', id: 'id', name: 'name', display_name: 'name',
  size: 'sizeGiB', status: 'status',
};

const sortItem = /^([a-z_]+)(?::(asc|desc))?$/;

/** "key:dir,key:dir" (Cinder's `sort`) or sort_key + sort_dir; default created_at desc. */
export function parseSort(sort: string | undefined, sortKey: string | undefined, sortDir: string | undefined): SortKey[] | string {
  const items = sort !== undefined ? sort.split(',') : sortKey !== undefined ? [`${sortKey}:${sortDir ?? 'desc'}`] : ['created_at:desc'];
  if (items.length > 4) return 'at most 4 sort keys';
  const out: SortKey[] = [];
  for (const item of items) {
    const m = sortItem.exec(item.trim());
    // Own keys only: `constructor` or `__proto__` would otherwise find Object.prototype's members.
    const key = m && Object.hasOwn(SORT_KEYS, m[1] as string) ? SORT_KEYS[m[1] as string] : undefined;
    if (!m || !key) return `invalid sort key ${JSON.stringify(item)} (allowed: ${Object.keys(SORT_KEYS).join(', ')})`;
    out.push({ key, dir: (m[2] ?? sortDir ?? 'desc') as 'asc' | 'desc' });
  }
  return out;
}

/** Query strings arrive as strings; arrays (repeated keys) are refused by z.string(). */
export const listQueryBase = {
  limit: z.string().regex(/^\d{1,4}$/, 'must be an integer 1..1000').transform(Number).pipe(z.number().int().min(1).max(1000)).optional(),
  marker: uuid.optional(),
  sort: z.string().max(200).optional(),
  sort_key: z.string().max(40).optional(),
  sort_dir: z.enum(['asc', 'desc']).optional(),
  all_tenants: looseBool.optional(),
  project_id: z.string().regex(/^(?!\.+$)[A-Za-z0-9_.@-]{1,64}$/).optional(),
  name: z.string().max(255).optional(),
  status: z.string().max(32).optional(),
  with_count: looseBool.optional(),
};

/** For endpoints that take no query parameters: anything given is refused, not ignored. */
export const noQuery = z.strictObject({});
