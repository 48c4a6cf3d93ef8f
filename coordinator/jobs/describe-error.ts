import { isStorageError } from '../../lib/core/errors.js';

/** "CODE: message" for a StorageError, the message otherwise: what a failed job records. */
export function describeError(err: unknown): string {
  if (isStorageError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
