/**
 * Hostile images, made with the real qemu-img (-u: the named backing is never opened). Each entry
 * says which stable code the driver must answer with.
 */
import { randomUUID } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../../lib/core/process.js';

export interface HostileKind {
  label: string;
  code: string;
  /** Writes the image at `file` (directory `scratch` is outside the share). */
  make(file: string, scratch: string, volumeId: string, sizeBytes: number): Promise<void>;
}

async function qcow2WithBacking(file: string, backing: string, backingFormat: string, sizeBytes: number): Promise<void> {
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', backing, '-F', backingFormat, file, String(sizeBytes)]);
}

/** qemu-img no longer writes -b without -F: write it with a format, then blank the format extension's type. */
async function qcow2WithoutBackingFormat(file: string, backing: string, sizeBytes: number): Promise<void> {
  await qcow2WithBacking(file, backing, 'qcow2', sizeBytes);
  const head = await readFile(file);
  const at = head.subarray(0, 65536).indexOf(Buffer.from([0xe2, 0x79, 0x2a, 0xca]));
  if (at < 0) throw new Error('backing format extension not found');
  const fh = await open(file, 'r+');
  try {
    await fh.write(Buffer.from([0x6e, 0x6f, 0x6e, 0x65]), 0, 4, at); // an unknown extension type, ignored by qemu
  } finally {
    await fh.close();
  }
}

export const HOSTILE_BACKINGS: HostileKind[] = [
  { label: 'backing file /etc/passwd', code: 'IMAGE_UNSAFE_BACKING', make: (f, _s, _v, n) => qcow2WithBacking(f, '/etc/passwd', 'raw', n) },
  { label: 'backing ../volume-<other>', code: 'IMAGE_UNSAFE_BACKING', make: (f, _s, _v, n) => qcow2WithBacking(f, `../volume-${randomUUID()}`, 'qcow2', n) },
  { label: 'backing json:{...}', code: 'IMAGE_UNSAFE_BACKING', make: (f, _s, _v, n) => qcow2WithBacking(f, 'json:{"driver":"raw","file":{"driver":"file","filename":"/etc/passwd"}}', 'raw', n) },
  { label: 'backing nbd://', code: 'IMAGE_UNSAFE_BACKING', make: (f, _s, _v, n) => qcow2WithBacking(f, 'nbd://127.0.0.1:10809/export', 'raw', n) },
  { label: 'backing volume-<other> (another volume on the share)', code: 'IMAGE_UNSAFE_BACKING', make: (f, _s, _v, n) => qcow2WithBacking(f, `volume-${randomUUID()}`, 'qcow2', n) },
  { label: 'backing with no format (qemu would probe)', code: 'IMAGE_UNSAFE_BACKING', make: (f, _s, v, n) => qcow2WithoutBackingFormat(f, `volume-${v}.${randomUUID()}`, n) },
  {
    label: 'external data file', code: 'IMAGE_DATA_FILE',
    make: (f, scratch, _v, n) => run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${path.join(scratch, `data-${randomUUID()}`)}`, f, String(n)]).then(() => undefined),
  },
];
