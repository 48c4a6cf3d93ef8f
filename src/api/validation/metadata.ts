/** Bodies and path keys of the metadata sub-resources (Cinder's shapes: `metadata` for the set, `meta` for one key). */
import { z } from 'zod';
import { StorageError } from '../../../lib/core/errors.js';
import { freeKeyRecord, metadata, text } from './common.js';

export const metadataBody = z.strictObject({ metadata });

/** PUT .../metadata/{key}: exactly one item (Cinder: "Request body contains too many items" / "URI mismatch"). */
export const metaItemBody = z.strictObject({
  meta: freeKeyRecord(z.record(text(255).min(1), text(255)).refine((m) => Object.keys(m).length === 1, 'must hold exactly one item')),
});

const metaKey = text(255).min(1);

/** The {key} of the path: the same bounds as a key in a body, refused as INVALID_INPUT (it is not an id). */
export function metadataKeyOf(raw: unknown): string {
  const r = metaKey.safeParse(raw);
  if (!r.success) {
    throw new StorageError('INVALID_INPUT', `invalid path: key: ${r.error.issues[0]?.message ?? 'invalid'}`, { details: { fields: [{ path: 'path.key', message: r.error.issues[0]?.message ?? 'invalid' }] } });
  }
  return r.data;
}
