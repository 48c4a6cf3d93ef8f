import { StorageError } from '../../../src/core/errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function assertUuid(id: string, what: string): void {
  if (typeof id !== 'string' || !UUID.test(id)) throw new StorageError('INVALID_ID', `${what} is not a UUID: ${JSON.stringify(id)}`);
}

export function isUuid(id: string): boolean {
  return UUID.test(id);
}

/** Whole GiB at the driver boundary (rounded up: a size is never under-reported). */
export function gib(bytes: number): number {
  return Math.ceil(bytes / 1024 ** 3);
}
