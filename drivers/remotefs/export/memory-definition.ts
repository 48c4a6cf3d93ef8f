/**
 * The definition inside a checkpoint's memory file (a libvirt QEMU save image). A restore gives
 * libvirt that definition (only its disks rewritten), so in an imported archive it is as hostile
 * as the saved domain.xml beside it: a kernel path, a log file or raw QEMU arguments in it would
 * be opened or run by the compute host. The import reads it and checks it by the same rules
 * (definition-check.ts).
 *
 * An import places that definition on its own files and ids (import-instance.ts) and writes it
 * back into the image's header (withSaveImageDefinition): libvirt restores an image only under the
 * uuid and disk serials its own definition names (virDomainDefCheckABIStability: "Target domain
 * uuid ... does not match source", "Target disk serial ..."), so an instance imported with new
 * ids is restorable only once its image names them; and the image then travels on, self-consistent,
 * when that instance is exported again. The QEMU state after the header is never touched.
 *
 *   0   16 bytes   magic "LibvirtQemudSave"
 *   16  uint32 LE  version (1 or 2)
 *   20  uint32 LE  data_len: the definition (NUL-terminated) and, in version 2, a cookie
 *   24  uint32 LE  was_running
 *   28  uint32 LE  compressed
 *   32  uint32 LE  version 2: the cookie's offset in the data (0: none)
 *   36  ...        unused words (92 bytes of header in all)
 *   92  data_len   the definition first, then the cookie, then zeros (libvirt pads 64 KiB so
 *                  that a saved definition can be replaced); QEMU's state follows
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { StorageError } from '../../../lib/core/errors.js';
import { MAX_DEFINITION_BYTES } from './instance-section.js';

const MAGIC = 'LibvirtQemudSave';
const HEADER_BYTES = 16 + 19 * 4;
const COOKIE_OFFSET_AT = 32;
/** The cookie (CPU model, a few hundred bytes) beside a definition: a data region beyond this is not rewritten. */
const MAX_DATA_BYTES = MAX_DEFINITION_BYTES + 1024 * 1024;

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

/**
 * Pure: the image's first HEADER_BYTES + data_len bytes with its definition replaced by `xml`,
 * laid out as libvirt writes it (the definition and its NUL, the cookie moved right behind it
 * with its offset updated, zeros to data_len): `head` holds at least those bytes. null when the
 * new definition and the cookie do not fit in data_len, or the data region is larger than this
 * product rewrites. A header libvirt would not read is refused (CHECKPOINT_MEMORY_UNSAFE).
 */
export function withSaveImageDefinition(head: Buffer, fileBytes: number, xml: string, what: string): Buffer | null {
  definitionInSaveImage(head, fileBytes, what);
  const version = head.readUInt32LE(16);
  const dataLen = head.readUInt32LE(20);
  if (dataLen > MAX_DATA_BYTES) return null;
  if (head.length < HEADER_BYTES + dataLen) throw new Error(`${what}: ${HEADER_BYTES + dataLen} bytes of header needed, ${head.length} given`);
  const data = head.subarray(HEADER_BYTES, HEADER_BYTES + dataLen);
  const definitionEnd = data.indexOf(0);
  let cookie: Buffer = Buffer.alloc(0);
  const cookieAt = version === 2 ? head.readUInt32LE(COOKIE_OFFSET_AT) : 0;
  if (cookieAt !== 0) {
    const end = cookieAt > definitionEnd && cookieAt < dataLen ? data.indexOf(0, cookieAt) : -1;
    if (end < 0) throw unsafe(what, 'its cookie lies outside its data or is not terminated');
    cookie = data.subarray(cookieAt, end);
  }
  const definition = Buffer.from(xml, 'utf8');
  if (definition.includes(0)) throw new Error(`${what}: a definition with a NUL byte`);
  const used = definition.length + 1 + (cookieAt !== 0 ? cookie.length + 1 : 0);
  if (used > dataLen) return null;
  const out = Buffer.alloc(HEADER_BYTES + dataLen);
  head.copy(out, 0, 0, HEADER_BYTES);
  definition.copy(out, HEADER_BYTES);
  if (cookieAt !== 0) {
    cookie.copy(out, HEADER_BYTES + definition.length + 1);
    out.writeUInt32LE(definition.length + 1, COOKIE_OFFSET_AT);
  }
  return out;
}

/**
 * Writes `xml` into the save image `file` as its definition (withSaveImageDefinition), in place
 * and synced; false, the file unchanged, when it does not fit. The caller owns the file (a
 * staged copy no one else opens): the rewrite is not atomic.
 */
export async function writeSaveImageDefinition(file: string, xml: string, what: string): Promise<boolean> {
  const fh = await open(file, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, HEADER_BYTES + MAX_DATA_BYTES));
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const out = withSaveImageDefinition(head.subarray(0, bytesRead), size, xml, what);
    if (out === null) return false;
    await fh.write(out, 0, out.length, 0);
    await fh.datasync();
    return true;
  } finally {
    await fh.close();
  }
}
