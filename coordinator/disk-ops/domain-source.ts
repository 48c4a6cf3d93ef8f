/**
 * The persistent definition of a STOPPED guest names the file its next boot opens. When the
 * storage side changes the active file of an attached volume while the guest is down (a revert, a
 * snapshot), that <source> must follow, or the next boot writes into a snapshot's frozen file
 * (Nova bugs 1304695, 1860913, 1989514). This rewrites exactly one <disk>: the one whose <serial>
 * is the volume id; everything else of the XML stays byte for byte.
 */
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';

const DISK = /<disk\b[^>]*>[\s\S]*?<\/disk>/g;

function escAttr(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

function serialOf(disk: string): string | null {
  return /<serial>([^<]*)<\/serial>/.exec(disk)?.[1]?.trim() ?? null;
}

/** The file the volume's disk names now (absolute path), or null when the domain has no such disk. */
export function diskSourceOf(xml: string, volumeId: string): string | null {
  for (const disk of xml.match(DISK) ?? []) {
    if (serialOf(disk) === volumeId) return /<source\s+file=['"]([^'"]+)['"]/.exec(disk)?.[1] ?? null;
  }
  return null;
}

/**
 * The XML with the volume's disk pointing at `file` (a bare name in the directory of the current
 * source) and driver type `format`. Any <backingStore> of the old source is dropped: QEMU reads
 * the chain from the headers at the next boot.
 */
export function withDiskSource(xml: string, volumeId: string, file: string, format: 'qcow2' | 'raw'): string {
  let found = false;
  const out = xml.replace(DISK, (disk) => {
    if (serialOf(disk) !== volumeId) return disk;
    const current = /<source\s+file=['"]([^'"]+)['"]/.exec(disk)?.[1];
    if (current === undefined) throw new StorageError('INVALID_STATE', `the disk of volume ${volumeId} is not a file`);
    found = true;
    const abs = path.join(path.dirname(current), file);
    return disk
      .replace(/<source\s+file=['"][^'"]+['"]/, `<source file='${escAttr(abs)}'`)
      .replace(/(<driver\b[^>]*\btype=)['"][^'"]+['"]/, `$1'${format}'`)
      .replace(/<backingStore\b[\s\S]*<\/backingStore>|<backingStore\s*\/>/, '');
  });
  if (!found) throw new StorageError('NOT_FOUND', `the domain has no disk with serial ${volumeId}`, { details: { volumeId } });
  return out;
}
