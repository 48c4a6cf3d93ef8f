/**
 * The 512-byte headers of an import archive, decoded by hand (archive-read.ts reads the stream
 * itself in large pieces; a general extractor's per-chunk stream objects cost more than the
 * headers). Pure: no I/O.
 *
 * What is understood is what ordinary tools write: ustar and GNU headers (checksum verified,
 * octal or base-256 numbers, the ustar prefix), pax extended headers (`x`, and `g` for every later
 * entry) with `path` and `size`, GNU long names (`L`, and `K` for a long link target). Anything
 * else is decoded only far enough to be refused by name (a link, a device, a directory...): the
 * reader accepts plain files only. A header that is not one of these formats, whose checksum is
 * wrong, or whose numbers do not parse is a corrupt archive, never guessed at.
 */

export const BLOCK = 512;
/** Pax and GNU long-name bodies above this are refused: a name or a size never needs more. */
export const MAX_EXTENDED_HEADER_BYTES = 1024 * 1024;

/** What a header is: a file's, an extension for the next header, or a kind the reader refuses. */
export type HeaderKind = 'file' | 'pax' | 'pax-global' | 'long-name' | 'long-link' | 'other';

export interface TarHeader {
  kind: HeaderKind;
  /** For messages: `file`, `symlink`, `link`, `directory`, ... or `type flag X`. */
  type: string;
  name: string;
  size: number;
}

/** Overrides from extension headers, applied to the next file header. */
export interface PendingNames {
  path?: string;
  size?: number;
  /** GNU sparse records (`GNU.sparse.*`): the entry's data is not the file's bytes as they are. */
  sparse?: boolean;
}

export class TarFormatError extends Error {}

const TYPES: Record<string, string> = {
  '0': 'file', '\0': 'file', '7': 'contiguous-file', '1': 'link', '2': 'symlink', '3': 'character-device',
  '4': 'block-device', '5': 'directory', '6': 'fifo',
};

function kindOf(flag: string): HeaderKind {
  switch (flag) {
    case '0': case '\0': case '7': return 'file';
    case 'x': return 'pax';
    case 'g': return 'pax-global';
    case 'L': case 'N': return 'long-name';
    case 'K': return 'long-link';
    default: return 'other';
  }
}

function str(block: Buffer, start: number, length: number): string {
  const end = block.indexOf(0, start);
  return block.toString('utf8', start, end === -1 || end > start + length ? start + length : end);
}

/** An octal field (NUL/space terminated, leading spaces allowed) or GNU base-256 (high bit set). */
function num(block: Buffer, start: number, length: number, field: string): number {
  if ((block[start] as number) & 0x80) {
    if (block[start] !== 0x80) throw new TarFormatError(`negative or malformed base-256 ${field}`);
    let n = 0;
    for (let i = start + 1; i < start + length; i++) n = n * 256 + (block[i] as number);
    if (!Number.isSafeInteger(n)) throw new TarFormatError(`${field} too large`);
    return n;
  }
  const text = block.toString('latin1', start, start + length).replace(/[\0 ]+$/, '').replace(/^ +/, '').replace(/\0.*$/s, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`${field} is not an octal number`);
  return parseInt(text, 8);
}

function checksumOf(block: Buffer): number {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += block[i] as number;
  for (let i = 156; i < BLOCK; i++) sum += block[i] as number;
  return sum;
}

/** One header block; null for a zero block (the archive's end marker, skipped like tar does). */
export function decodeHeader(block: Buffer): TarHeader | null {
  if (block.length !== BLOCK) throw new TarFormatError('a header block is cut short');
  const sum = checksumOf(block);
  if (sum === 8 * 32) return null;
  if (num(block, 148, 8, 'checksum') !== sum) throw new TarFormatError('a header checksum is wrong (not a tar stream, or corrupt)');
  const magic = block.toString('latin1', 257, 263);
  const ustar = magic === 'ustar\0';
  if (!ustar && !(magic === 'ustar ' && block.toString('latin1', 263, 265) === ' \0')) throw new TarFormatError('a header of an unknown format');
  const flag = String.fromCharCode(block[156] as number);
  let name = str(block, 0, 100);
  if (ustar && block[345] !== 0) name = `${str(block, 345, 155)}/${name}`;
  const size = num(block, 124, 12, 'size');
  const kind = kindOf(flag);
  // Old tars mark a directory by a trailing slash on a plain file's name.
  if (kind === 'file' && name.endsWith('/')) return { kind: 'other', type: 'directory', name, size };
  return { kind, type: TYPES[flag] ?? `type flag ${JSON.stringify(flag)}`, name, size };
}

/** Pax records (`<length> <key>=<value>\n`); a malformed one is a corrupt archive. */
export function parsePax(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < body.length) {
    if (body[at] === 0) break;
    const space = body.indexOf(0x20, at);
    const length = space === -1 ? NaN : Number(body.toString('latin1', at, space));
    if (!Number.isSafeInteger(length) || length <= space - at + 1 || at + length > body.length || body[at + length - 1] !== 0x0a) {
      throw new TarFormatError('a malformed pax record');
    }
    const record = body.toString('utf8', space + 1, at + length - 1);
    const eq = record.indexOf('=');
    if (eq <= 0) throw new TarFormatError('a malformed pax record');
    out.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return out;
}

/** The pax keys the reader applies, into `into`; a path with a NUL or a size that is not a number is corrupt. */
export function applyPax(records: ReadonlyMap<string, string>, into: PendingNames): void {
  const p = records.get('path');
  if (p !== undefined) {
    if (p.includes('\0')) throw new TarFormatError('a pax path with a NUL byte');
    into.path = p;
  }
  const s = records.get('size');
  if (s !== undefined) {
    if (!/^[0-9]+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new TarFormatError('a pax size that is not a number');
    into.size = Number(s);
  }
  // GNU tar expands such an entry (a map, then the data blocks) into another file than the bytes
  // the entry carries: the reader would check one file and ordinary tools unpack another.
  if ([...records.keys()].some((k) => k.startsWith('GNU.sparse.'))) into.sparse = true;
}

/** A GNU long name body: the name up to its first NUL. */
export function longName(body: Buffer): string {
  const end = body.indexOf(0);
  return body.toString('utf8', 0, end === -1 ? body.length : end);
}

/** Padding after `size` bytes of data, to the next block. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}
