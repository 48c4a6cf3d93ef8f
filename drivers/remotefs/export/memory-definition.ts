/**
 * The definition inside a checkpoint's memory file (a libvirt QEMU save image). A restore gives
 * libvirt that definition (only its disks rewritten), so in an imported archive it is as hostile
 * as the saved domain.xml beside it: a kernel path, a log file or raw QEMU arguments in it would
 * be opened or run by the compute host. The import reads it and checks it by the same rules
 * (definition-check.ts).
 *
 *   0   16 bytes   magic "LibvirtQemudSave"
 *   16  uint32 LE  version (1 or 2)
 *   20  uint32 LE  data_len: the definition (NUL-terminated) and, in version 2, a cookie
 *   24  ...        was_running, compressed, unused words (92 bytes of header in all)
 *   92  data_len   the definition first
 */
import { open } from 'node:fs/promises';
import { StorageError } from '../../../lib/core/errors.js';
import { MAX_DEFINITION_BYTES } from './instance-section.js';

const MAGIC = 'LibvirtQemudSave';
const HEADER_BYTES = 16 + 19 * 4;

function unsafe(what: string, reason: string): StorageError {
  return new StorageError('CHECKPOINT_MEMORY_UNSAFE', `${what}: ${reason}`, { details: { memory: what, reason } });
}

/** The definition out of a save image's first bytes (`head`: at least the header and the definition). Pure. */
export function definitionInSaveImage(head: Buffer, fileBytes: number, what: string): string {
  if (head.length < HEADER_BYTES || head.subarray(0, 16).toString('latin1') !== MAGIC) throw unsafe(what, 'not a complete libvirt QEMU save image (wrong magic)');
  const version = head.readUInt32LE(16);
  const dataLen = head.readUInt32LE(20);
  if (version < 1 || version > 2) throw unsafe(what, `unknown save image version ${version}`);
  if (head.readUInt32LE(28) !== 0) throw unsafe(what, 'a compressed image (this product writes raw images)');
  if (HEADER_BYTES + dataLen > fileBytes) throw unsafe(what, 'the header claims more data than the file holds');
  const data = head.subarray(HEADER_BYTES, HEADER_BYTES + Math.min(dataLen, head.length - HEADER_BYTES));
  const end = data.indexOf(0);
  if (end < 0) throw unsafe(what, `its definition is not terminated within ${MAX_DEFINITION_BYTES} bytes`);
  return data.subarray(0, end).toString('utf8');
}

/** Reads the definition of the save image `file` (its header and at most MAX_DEFINITION_BYTES). */
export async function readSaveImageDefinition(file: string, what: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, HEADER_BYTES + MAX_DEFINITION_BYTES));
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return definitionInSaveImage(head.subarray(0, bytesRead), size, what);
  } finally {
    await fh.close();
  }
}
