/**
 * What a metadata request makes of the current item set: pure, so the write (metadata/apply.ts)
 * only reads, plans and stores inside one transaction.
 */
import { createHash } from 'node:crypto';
import { StorageError } from '../../../../lib/core/errors.js';

export type Metadata = Record<string, string>;

/** Same bound as on create and update (validation/common.ts): the set after the change counts, not the request. */
export const MAX_METADATA_ITEMS = 64;

export type MetadataChange =
  | { kind: 'merge'; items: Metadata }
  | { kind: 'replace'; items: Metadata }
  | { kind: 'set-key'; key: string; value: string }
  | { kind: 'delete-key'; key: string };

/**
 * The ETag of an item set: independent of key order, so a GET and the If-Match of the following
 * PUT agree whatever order the database returned the JSON in.
 */
export function metadataEtag(m: Metadata): string {
  const canonical = JSON.stringify(Object.keys(m).sort().map((k) => [k, m[k]]));
  return `"${createHash('sha256').update(canonical).digest('hex').slice(0, 32)}"`;
}

/** RFC 9110 If-Match: `*` or a list of (possibly weak) entity tags; absent = no condition. */
export function ifMatchHolds(header: string | undefined, current: Metadata): boolean {
  if (header === undefined || header.trim() === '*') return true;
  const want = metadataEtag(current);
  return header.split(',').map((t) => t.trim().replace(/^W\//, '')).some((t) => t === want);
}

export function planMetadata(current: Metadata, change: MetadataChange, what: string): Metadata {
  let next: Metadata;
  switch (change.kind) {
    case 'merge': next = { ...current, ...change.items }; break;
    case 'replace': next = { ...change.items }; break;
    case 'set-key': next = { ...current, [change.key]: change.value }; break;
    case 'delete-key':
      if (!Object.prototype.hasOwnProperty.call(current, change.key)) {
        throw new StorageError('METADATA_KEY_NOT_FOUND', `${what} has no metadata with key ${JSON.stringify(change.key)}`, { details: { key: change.key } });
      }
      next = { ...current };
      delete next[change.key];
      break;
  }
  if (Object.keys(next).length > MAX_METADATA_ITEMS) {
    throw new StorageError('INVALID_INPUT', `${what} would have ${Object.keys(next).length} metadata items; at most ${MAX_METADATA_ITEMS} are allowed`, {
      details: { fields: [{ path: 'body.metadata', message: `at most ${MAX_METADATA_ITEMS} metadata items` }] },
    });
  }
  return next;
}
