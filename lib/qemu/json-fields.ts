/**
 * Typed reads of JSON printed by qemu-img. The image is hostile and qemu-img's output shape has
 * changed between releases, so every field we use is checked; a wrong type is IMAGE_CORRUPT.
 */
import { StorageError } from '../core/errors.js';

export type JsonObject = Record<string, unknown>;

function corrupt(what: string, message: string, details: Record<string, unknown> = {}): StorageError {
  return new StorageError('IMAGE_CORRUPT', `${what}: ${message}`, { details });
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new StorageError('IMAGE_CORRUPT', `${what}: output is not JSON`, { cause: err });
  }
}

export function asObject(value: unknown, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(what, 'not an object');
  return value as JsonObject;
}

export function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw corrupt(what, 'not an array');
  return value;
}

/** A non-negative safe integer (sizes and offsets; a 2^53 overflow would be silent otherwise). */
export function reqSize(obj: JsonObject, key: string, what: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw corrupt(what, `field ${key} is not a non-negative integer`, { [key]: v });
  }
  return v;
}

export function optSize(obj: JsonObject, key: string, what: string): number | undefined {
  return obj[key] === undefined ? undefined : reqSize(obj, key, what);
}

export function reqString(obj: JsonObject, key: string, what: string): string {
  const v = obj[key];
  if (typeof v !== 'string') throw corrupt(what, `field ${key} is not a string`, { [key]: v });
  return v;
}

export function optString(obj: JsonObject, key: string, what: string): string | undefined {
  return obj[key] === undefined ? undefined : reqString(obj, key, what);
}

export function reqBool(obj: JsonObject, key: string, what: string): boolean {
  const v = obj[key];
  if (typeof v !== 'boolean') throw corrupt(what, `field ${key} is not a boolean`, { [key]: v });
  return v;
}

export function optBool(obj: JsonObject, key: string, what: string): boolean | undefined {
  return obj[key] === undefined ? undefined : reqBool(obj, key, what);
}
