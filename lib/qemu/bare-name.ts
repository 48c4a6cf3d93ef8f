import { StorageError } from '../core/errors.js';

/**
 * A backing reference we write must be a plain file name in the image's own directory: mount
 * points differ between hosts, and qemu reads `proto:` prefixes (json:, nbd:, file:) as
 * protocols. This is the volume-agnostic floor; safety.ts checks the volume's own names.
 */
export function assertBareName(name: string, what = 'backing file'): void {
  const bad =
    name.length === 0 ||
    name.length > 255 ||
    name === '.' ||
    name === '..' ||
    /[/\\:\0\n\r]/.test(name);
  if (bad) {
    throw new StorageError('IMAGE_UNSAFE_BACKING', `${what} must be a bare file name: ${JSON.stringify(name)}`, {
      details: { name },
    });
  }
}
