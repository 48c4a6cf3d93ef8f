import { StorageError } from '../core/errors.js';

/** The only formats the product stores. Everything else is refused, never probed. */
export const IMAGE_FORMATS = ['qcow2', 'raw'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export function isImageFormat(value: unknown): value is ImageFormat {
  return typeof value === 'string' && (IMAGE_FORMATS as readonly string[]).includes(value);
}

/** Runtime check for values that came from JSON, a database row or an info file. */
export function assertImageFormat(value: unknown, what = 'format'): asserts value is ImageFormat {
  if (!isImageFormat(value)) {
    throw new StorageError('INVALID_INPUT', `${what} must be one of ${IMAGE_FORMATS.join(', ')}`, {
      details: { [what]: value },
    });
  }
}
