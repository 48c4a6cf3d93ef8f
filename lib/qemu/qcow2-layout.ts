/**
 * qcow2 on-disk constants (docs/interop/qcow2.txt in QEMU), shared by the header inspector and
 * the native overlay writer. All header integers are big-endian.
 */
export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
export const V2_HEADER_LENGTH = 72;
export const V3_MIN_HEADER_LENGTH = 104;

/** Header field offsets. */
export const H = {
  magic: 0, version: 4, backingFileOffset: 8, backingFileSize: 16, clusterBits: 20, size: 24,
  cryptMethod: 32, l1Size: 36, l1TableOffset: 40, refcountTableOffset: 48, refcountTableClusters: 56,
  nbSnapshots: 60, snapshotsOffset: 64,
  // version 3 only
  incompatibleFeatures: 72, compatibleFeatures: 80, autoclearFeatures: 88, refcountOrder: 96,
  headerLength: 100, compressionType: 104,
} as const;

export const EXT = {
  END: 0x00000000,
  BACKING_FORMAT: 0xe2792aca,
  FEATURE_TABLE: 0x6803f857,
  CRYPTO_HEADER: 0x0537be77,
  BITMAPS: 0x23852875,
  DATA_FILE: 0x44415441,
} as const;

export const INCOMPAT = {
  DIRTY: 1n << 0n,
  CORRUPT: 1n << 1n,
  DATA_FILE: 1n << 2n,
  COMPRESSION: 1n << 3n,
  EXTENDED_L2: 1n << 4n,
} as const;
export const KNOWN_INCOMPAT = INCOMPAT.DIRTY | INCOMPAT.CORRUPT | INCOMPAT.DATA_FILE | INCOMPAT.COMPRESSION | INCOMPAT.EXTENDED_L2;

export const COMPRESSION = { ZLIB: 0, ZSTD: 1 } as const;

/** qemu's limits (block/qcow2.h): backing name length and backing format string size. */
export const MAX_BACKING_NAME = 1023;
export const MAX_BACKING_FORMAT = 15;
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
/** QCOW_MAX_L1_SIZE (32 MiB) in entries. */
export const MAX_L1_ENTRIES = (32 * 1024 * 1024) / 8;
