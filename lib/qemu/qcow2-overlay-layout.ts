/**
 * The bytes of an empty qcow2 v3 overlay, laid out exactly as qemu 7.2's `qemu-img create -f qcow2
 * -b <name> -F <fmt> <file> <size>` leaves them (default options: 64 KiB clusters, refcount_bits
 * 16, lazy refcounts off, zlib, no extended L2):
 *
 *   cluster 0   header (112 bytes), extensions: backing format, feature name table, end;
 *               then the backing file name
 *   cluster 1   refcount table: one entry -> cluster 2
 *   cluster 2   refcount block: refcount 1 for clusters 0 .. 2 + L1 clusters
 *   cluster 3.. L1 table, l1_size zero entries; the file ends right after them (qemu writes
 *               exactly l1_size * 8 bytes). No L1 at all (offset 0) for a zero-sized image.
 *
 * Pure: returns the regions to write; qcow2-writer.ts does the I/O.
 */
import { EXT, H, MAX_BACKING_NAME, MAX_L1_ENTRIES, QCOW2_MAGIC } from './qcow2-layout.js';

export const OVERLAY_CLUSTER_BITS = 16;
const CLUSTER = 2 ** OVERLAY_CLUSTER_BITS;
const HEADER_LENGTH = 112;
const L2_COVERAGE = CLUSTER * (CLUSTER / 8); // 512 MiB of guest disk per L1 entry
/** qemu refuses larger images with 64 KiB clusters (the L1 table would exceed 32 MiB). */
export const MAX_OVERLAY_SIZE = MAX_L1_ENTRIES * L2_COVERAGE;

/** Feature name table, in qemu's order (type 0 incompatible, 1 compatible, 2 autoclear). */
const FEATURES: [number, number, string][] = [
  [0, 0, 'dirty bit'], [0, 1, 'corrupt bit'], [0, 2, 'external data file'], [0, 3, 'compression type'],
  [0, 4, 'extended L2 entries'], [1, 0, 'lazy refcounts'], [2, 0, 'bitmaps'], [2, 1, 'raw external data'],
];
const FEATURE_ENTRY = 48;

export interface Region {
  offset: number;
  data: Buffer;
}

export interface OverlayLayout {
  fileSize: number;
  /** Non-zero regions; everything else in the file reads as zero. */
  regions: Region[];
}

export const pad8 = (n: number) => Math.ceil(n / 8) * 8;

/** One header extension as qemu encodes it: type, length, data padded to 8 bytes. */
export function extension(type: number, data: Buffer): Buffer {
  const b = Buffer.alloc(8 + pad8(data.length));
  b.writeUInt32BE(type, 0);
  b.writeUInt32BE(data.length, 4);
  data.copy(b, 8);
  return b;
}

function featureTable(): Buffer {
  const t = Buffer.alloc(FEATURES.length * FEATURE_ENTRY);
  FEATURES.forEach(([type, bit, name], i) => {
    t.writeUInt8(type, i * FEATURE_ENTRY);
    t.writeUInt8(bit, i * FEATURE_ENTRY + 1);
    t.write(name, i * FEATURE_ENTRY + 2, 'latin1');
  });
  return t;
}
/** qemu 7.2's feature-name table extension (proven against qemu-img by the writer's tests). */
export const FEATURE_EXT = extension(EXT.FEATURE_TABLE, featureTable());

export function l1Entries(virtualSize: number): number {
  return Math.ceil(virtualSize / L2_COVERAGE);
}

/** Callers validate: virtualSize a multiple of 512 in [0, MAX_OVERLAY_SIZE], name <= 1023 bytes. */
export function overlayLayout(backingName: string, backingFormat: string, virtualSize: number): OverlayLayout {
  const name = Buffer.from(backingName, 'utf8');
  if (name.length === 0 || name.length > MAX_BACKING_NAME) throw new RangeError('backing name length');
  return emptyImageLayout({ name, format: backingFormat }, virtualSize);
}

/**
 * The same layout with or without a backing file: without one (`qemu-img create -f qcow2 <file>
 * <size>`), qemu writes neither the backing format extension nor a name, and the header's
 * backing fields stay zero; clusters 1.. are laid out identically.
 */
export function emptyImageLayout(backing: { name: Buffer; format: string } | undefined, virtualSize: number): OverlayLayout {
  const name = backing?.name ?? Buffer.alloc(0);
  const l1Size = l1Entries(virtualSize);
  const l1Clusters = Math.ceil((l1Size * 8) / CLUSTER);
  const l1Offset = l1Size > 0 ? 3 * CLUSTER : 0;
  const backingExt = backing ? [extension(EXT.BACKING_FORMAT, Buffer.from(backing.format, 'latin1'))] : [];
  const exts = Buffer.concat([...backingExt, FEATURE_EXT, Buffer.alloc(8)]);
  const nameOffset = backing ? HEADER_LENGTH + exts.length : 0;
  const cluster0 = Buffer.alloc(HEADER_LENGTH + exts.length + name.length);
  writeHeader(cluster0, { nameOffset, nameLength: name.length, virtualSize, l1Size, l1Offset });
  exts.copy(cluster0, HEADER_LENGTH);
  name.copy(cluster0, HEADER_LENGTH + exts.length);
  const refTable = Buffer.alloc(8);
  refTable.writeBigUInt64BE(BigInt(2 * CLUSTER));
  const refBlock = Buffer.alloc(2 * (3 + l1Clusters));
  for (let i = 0; i < 3 + l1Clusters; i++) refBlock.writeUInt16BE(1, 2 * i);
  return {
    fileSize: l1Size > 0 ? l1Offset + l1Size * 8 : 3 * CLUSTER,
    regions: [{ offset: 0, data: cluster0 }, { offset: CLUSTER, data: refTable }, { offset: 2 * CLUSTER, data: refBlock }],
  };
}

interface HeaderFields {
  nameOffset: number;
  nameLength: number;
  virtualSize: number;
  l1Size: number;
  l1Offset: number;
}

function writeHeader(b: Buffer, f: HeaderFields): void {
  b.writeUInt32BE(QCOW2_MAGIC, H.magic);
  b.writeUInt32BE(3, H.version);
  b.writeBigUInt64BE(BigInt(f.nameOffset), H.backingFileOffset);
  b.writeUInt32BE(f.nameLength, H.backingFileSize);
  b.writeUInt32BE(OVERLAY_CLUSTER_BITS, H.clusterBits);
  b.writeBigUInt64BE(BigInt(f.virtualSize), H.size);
  b.writeUInt32BE(f.l1Size, H.l1Size);
  b.writeBigUInt64BE(BigInt(f.l1Offset), H.l1TableOffset);
  b.writeBigUInt64BE(BigInt(CLUSTER), H.refcountTableOffset);
  b.writeUInt32BE(1, H.refcountTableClusters);
  b.writeUInt32BE(4, H.refcountOrder); // 16-bit refcounts
  b.writeUInt32BE(HEADER_LENGTH, H.headerLength);
  // features, snapshots, crypt method and compression type (zlib) stay zero
}
