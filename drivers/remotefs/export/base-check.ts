/**
 * Does the target of an incremental import hold the archive's base files unchanged? The target's
 * copy of a base file is the source's file with one difference: the backing name in its header was
 * rewritten to the target's name when it was imported (same length: only the volume id, or the
 * overlay id, differs). So the target file is hashed with the name bytes put back as the source's:
 * equal to the archive's checksum exactly when the data and every other header byte are the same.
 */
import { createHash } from 'node:crypto';
import { StorageError } from '../../../lib/core/errors.js';
import { openInDir } from '../../../lib/core/safe-open.js';
import { readAt } from '../../../lib/qemu/image-file.js';
import { H } from '../../../lib/qemu/qcow2-layout.js';

export function baseMismatch(message: string, details: Record<string, unknown> = {}): StorageError {
  return new StorageError('IMPORT_BASE_MISMATCH', message, { details });
}

/**
 * SHA-256 of `dir/name` as the source's file: the backing name found in its header must be
 * `targetBacking` (null: none) and is hashed as `sourceBacking`.
 */
export async function sha256AsSource(dir: string, name: string, targetBacking: string | null, sourceBacking: string | null): Promise<string> {
  const { fh } = await openInDir(dir, name, 'read');
  try {
    let patch: { at: number; bytes: Buffer } | null = null;
    if (targetBacking !== null && sourceBacking !== null) {
      const head = await readAt(fh, 0, 24);
      const offset = head.length >= 24 ? Number(head.readBigUInt64BE(H.backingFileOffset) & 0xffffffffn) : 0;
      const size = head.length >= 24 ? head.readUInt32BE(H.backingFileSize) : 0;
      const found = offset === 0 ? null : (await readAt(fh, offset, size)).toString('utf8');
      const source = Buffer.from(sourceBacking, 'utf8');
      if (found !== targetBacking || source.length !== size) {
        throw baseMismatch(`${name}: its header names backing ${JSON.stringify(found)}, expected ${JSON.stringify(targetBacking)}`, { file: name });
      }
      patch = { at: offset, bytes: source };
    } else if (targetBacking !== sourceBacking) {
      throw baseMismatch(`${name}: backing ${JSON.stringify(targetBacking)} on the target, ${JSON.stringify(sourceBacking)} in the archive`, { file: name });
    }
    const hash = createHash('sha256');
    let pos = 0;
    for await (const raw of fh.createReadStream({ autoClose: false, start: 0, highWaterMark: 1024 * 1024 })) {
      const chunk = raw as Buffer;
      if (patch !== null && patch.at < pos + chunk.length && patch.at + patch.bytes.length > pos) {
        const copy = Buffer.from(chunk);
        for (let i = 0; i < patch.bytes.length; i++) {
          const j = patch.at + i - pos;
          if (j >= 0 && j < copy.length) copy[j] = patch.bytes[i] as number;
        }
        hash.update(copy);
      } else {
        hash.update(chunk);
      }
      pos += chunk.length;
    }
    return hash.digest('hex');
  } finally {
    await fh.close();
  }
}
