/**
 * Parse a qcow2 header (v2 and v3) from the first bytes of a file, in-process, without qemu.
 * Every offset and length read from the file is bounded before use: the file is hostile.
 * Structural nonsense throws IMAGE_CORRUPT; policy (which features are acceptable) is left to
 * safety.ts, which reads the flags reported here.
 */
import { StorageError } from '../core/errors.js';
import {
  EXT, H, INCOMPAT, KNOWN_INCOMPAT, MAX_BACKING_FORMAT, MAX_BACKING_NAME, MAX_CLUSTER_BITS, MAX_L1_ENTRIES,
  MIN_CLUSTER_BITS, QCOW2_MAGIC, V2_HEADER_LENGTH, V3_MIN_HEADER_LENGTH,
} from './qcow2-layout.js';

export interface Qcow2Header {
  version: 2 | 3;
  clusterBits: number;
  clusterSize: number;
  virtualSize: number;
  headerLength: number;
  backingFile?: string;
  backingFormat?: string;
  /** External data file name from extension 0x44415441. */
  dataFile?: string;
  /** Incompatible feature bit 2: guest data lives in another file. */
  externalDataFile: boolean;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatibleFeatures: bigint;
  compatibleFeatures: bigint;
  autoclearFeatures: bigint;
  /** Incompatible bits this code does not know: qemu would refuse to open the image too. */
  unknownIncompatibleFeatures: bigint;
  dirty: boolean;
  corrupt: boolean;
  refcountOrder: number;
  compressionType: number;
  extendedL2: boolean;
  /** Header extension types in file order (without the end marker). */
  extensions: number[];
}

export function corrupt(reason: string, details: Record<string, unknown> = {}): StorageError {
  return new StorageError('IMAGE_CORRUPT', `qcow2 header: ${reason}`, { details: { reason, ...details } });
}

/** Bytes of the file the parser needs: the whole first cluster (header, extensions, backing name). */
export function headerBytesNeeded(head: Buffer): number {
  if (head.length < H.clusterBits + 4) return V2_HEADER_LENGTH;
  const bits = head.readUInt32BE(H.clusterBits);
  return bits >= MIN_CLUSTER_BITS && bits <= MAX_CLUSTER_BITS ? 2 ** bits : V2_HEADER_LENGTH;
}

/**
 * `head` holds the file from offset 0: at least min(fileSize, first cluster). `fileSize` bounds
 * every table offset.
 */
export function parseQcow2Header(head: Buffer, fileSize: number): Qcow2Header {
  if (head.length < V2_HEADER_LENGTH || fileSize < V2_HEADER_LENGTH) throw corrupt('file shorter than a header');
  if (head.readUInt32BE(H.magic) !== QCOW2_MAGIC) throw corrupt('bad magic');
  const version = head.readUInt32BE(H.version);
  if (version !== 2 && version !== 3) throw corrupt(`unsupported version ${version}`, { version });
  const clusterBits = head.readUInt32BE(H.clusterBits);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) throw corrupt(`cluster_bits ${clusterBits} out of range`);
  const clusterSize = 2 ** clusterBits;
  const h = readFixedFields(head, version, clusterBits, clusterSize);
  checkTables(h, fileSize);
  readExtensions(head, h, fileSize);
  readBackingName(head, h, fileSize);
  return h;
}

function u64(head: Buffer, offset: number, field: string): number {
  const v = head.readBigUInt64BE(offset);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`${field} too large`, { [field]: v.toString() });
  return Number(v);
}

function readFixedFields(head: Buffer, version: 2 | 3, clusterBits: number, clusterSize: number): Qcow2Header {
  const v3 = version === 3;
  if (v3 && head.length < V3_MIN_HEADER_LENGTH) throw corrupt('file shorter than a v3 header');
  const incompatible = v3 ? head.readBigUInt64BE(H.incompatibleFeatures) : 0n;
  const headerLength = v3 ? head.readUInt32BE(H.headerLength) : V2_HEADER_LENGTH;
  if (v3 && (headerLength < V3_MIN_HEADER_LENGTH || headerLength > clusterSize || headerLength % 8 !== 0)) {
    throw corrupt(`header_length ${headerLength} invalid`);
  }
  if (v3 && head.length < headerLength) throw corrupt('file shorter than header_length');
  const compressionType = v3 && headerLength > H.compressionType ? head.readUInt8(H.compressionType) : 0;
  return {
    version, clusterBits, clusterSize, headerLength,
    virtualSize: u64(head, H.size, 'size'),
    externalDataFile: (incompatible & INCOMPAT.DATA_FILE) !== 0n,
    cryptMethod: head.readUInt32BE(H.cryptMethod),
    l1Size: head.readUInt32BE(H.l1Size),
    l1TableOffset: u64(head, H.l1TableOffset, 'l1_table_offset'),
    refcountTableOffset: u64(head, H.refcountTableOffset, 'refcount_table_offset'),
    refcountTableClusters: head.readUInt32BE(H.refcountTableClusters),
    nbSnapshots: head.readUInt32BE(H.nbSnapshots),
    snapshotsOffset: u64(head, H.snapshotsOffset, 'snapshots_offset'),
    incompatibleFeatures: incompatible,
    compatibleFeatures: v3 ? head.readBigUInt64BE(H.compatibleFeatures) : 0n,
    autoclearFeatures: v3 ? head.readBigUInt64BE(H.autoclearFeatures) : 0n,
    unknownIncompatibleFeatures: incompatible & ~KNOWN_INCOMPAT,
    dirty: (incompatible & INCOMPAT.DIRTY) !== 0n,
    corrupt: (incompatible & INCOMPAT.CORRUPT) !== 0n,
    refcountOrder: v3 ? head.readUInt32BE(H.refcountOrder) : 4,
    compressionType,
    extendedL2: (incompatible & INCOMPAT.EXTENDED_L2) !== 0n,
    extensions: [],
  };
}

/** Tables must be cluster aligned and lie inside the file; sizes must match the virtual size. */
function checkTables(h: Qcow2Header, fileSize: number): void {
  const inFile = (offset: number, length: number, what: string) => {
    if (offset % h.clusterSize !== 0 || offset === 0) throw corrupt(`${what} offset ${offset} not a non-zero cluster boundary`);
    if (offset + length > fileSize) throw corrupt(`${what} lies beyond the end of the file`, { offset, length, fileSize });
  };
  if (h.refcountOrder > 6) throw corrupt(`refcount_order ${h.refcountOrder} > 6`);
  if (h.version === 2 && h.refcountOrder !== 4) throw corrupt('v2 requires refcount_order 4');
  if (h.compressionType > 1 || (h.compressionType !== 0) !== ((h.incompatibleFeatures & INCOMPAT.COMPRESSION) !== 0n)) {
    throw corrupt(`compression type ${h.compressionType} inconsistent with its feature bit`);
  }
  if (h.refcountTableClusters === 0) throw corrupt('no refcount table');
  inFile(h.refcountTableOffset, h.refcountTableClusters * h.clusterSize, 'refcount table');
  if (h.l1Size > MAX_L1_ENTRIES) throw corrupt(`l1_size ${h.l1Size} too large`);
  const l2Entries = h.clusterSize / (h.extendedL2 ? 16 : 8);
  const needed = Math.ceil(h.virtualSize / (l2Entries * h.clusterSize));
  if (h.l1Size < needed) throw corrupt(`l1_size ${h.l1Size} too small for the virtual size`, { needed });
  if (h.l1Size > 0) inFile(h.l1TableOffset, h.l1Size * 8, 'L1 table');
  if (h.nbSnapshots > 0) inFile(h.snapshotsOffset, 0, 'snapshot table');
}

/** Header extensions run from the end of the header to the end marker, inside the first cluster. */
function readExtensions(head: Buffer, h: Qcow2Header, fileSize: number): void {
  const backingOffset = Number(head.readBigUInt64BE(H.backingFileOffset) & 0xffffffffn);
  const limit = Math.min(h.clusterSize, fileSize, head.length, backingOffset > 0 ? backingOffset : Infinity);
  let pos = h.headerLength;
  for (;;) {
    if (pos + 8 > limit) throw corrupt('header extensions run past the first cluster or into the backing name');
    const type = head.readUInt32BE(pos);
    const len = head.readUInt32BE(pos + 4);
    if (type === EXT.END) return;
    const end = pos + 8 + len;
    if (end > limit) throw corrupt(`header extension 0x${type.toString(16)} too long`, { len });
    const data = head.subarray(pos + 8, end);
    h.extensions.push(type);
    if (type === EXT.BACKING_FORMAT) h.backingFormat = nameFrom(data, MAX_BACKING_FORMAT, 'backing format');
    if (type === EXT.DATA_FILE) h.dataFile = nameFrom(data, MAX_BACKING_NAME, 'data file name');
    pos = end + ((8 - (len % 8)) % 8);
  }
}

function readBackingName(head: Buffer, h: Qcow2Header, fileSize: number): void {
  const offset = head.readBigUInt64BE(H.backingFileOffset);
  const size = head.readUInt32BE(H.backingFileSize);
  if (offset === 0n) {
    if (size !== 0) throw corrupt('backing_file_size without backing_file_offset');
    return;
  }
  if (size === 0) return; // qemu treats an empty name as no backing file
  if (size > MAX_BACKING_NAME) throw corrupt(`backing file name of ${size} bytes`);
  const start = Number(offset);
  if (offset + BigInt(size) > BigInt(Math.min(h.clusterSize, fileSize, head.length))) {
    throw corrupt('backing file name outside the first cluster');
  }
  h.backingFile = nameFrom(head.subarray(start, start + size), MAX_BACKING_NAME, 'backing file name');
}

/** Names are stored without a terminator; a NUL or non-UTF-8 byte means a lie about the length. */
function nameFrom(data: Buffer, max: number, what: string): string {
  if (data.length > max) throw corrupt(`${what} longer than ${max} bytes`);
  if (data.includes(0)) throw corrupt(`${what} contains NUL`);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(data);
  if (text.includes('\ufffd')) throw corrupt(`${what} is not UTF-8`);
  return text;
}
