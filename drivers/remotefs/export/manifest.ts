/**
 * The manifest of a volume export archive: what the archive claims to hold. It is the first entry
 * (`manifest.json`), so an importer knows every file, size, format and backing name before the
 * first image byte arrives, and refuses anything the manifest did not announce.
 *
 * Archive layout (an ordinary ustar stream; `tar -tvf` lists it, `tar -x` unpacks it):
 *
 *   manifest.json            this document
 *   volume-<vid>[.<uuid>]    every qcow2/raw file of the tree, as on the share, roots first
 *   SHA256SUMS               "<sha256>  <name>" per file (sha256sum -c checks an unpacked archive)
 *
 * The checksums trail the files: they are computed while the files stream, so an export reads each
 * file once (a manifest holding them would need a second read of the whole tree first).
 *
 * An incremental archive (`base` set) leaves out the files of the base snapshot's chain: the
 * target must already hold them unchanged; their checksums are in `base.files`.
 */
import { z } from 'zod';
import { StorageError } from '../../../lib/core/errors.js';
import { isCanonicalUuid, isOwnFileName } from '../../../lib/core/volume-names.js';
import { RECORD_TEXT_MAX, recordText } from '../../../lib/core/record-text.js';
import type { ExportManifest, ManifestFile, ManifestSnapshot } from '../../contract/export-manifest.js';

export const MANIFEST_NAME = 'manifest.json';
export const CHECKSUMS_NAME = 'SHA256SUMS';
export const EXPORT_FORMAT = 'qcowshare-volume-export';
export const EXPORT_VERSION = 1;
/** A manifest is read whole into memory: beyond this it is refused unread. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const SHA256 = /^[0-9a-f]{64}$/;
/** Ids as the service writes them (isCanonicalUuid: lower case); any other form is refused, never normalised. */
export const archiveId = z.string().refine(isCanonicalUuid, 'not a lower-case UUID');
const id = archiveId;
/**
 * Names, descriptions and metadata become database rows as they are: the rule of the API's own
 * bodies (a longer name made MariaDB refuse the row after every file was written).
 */
const metadataSchema = z.record(recordText(RECORD_TEXT_MAX).min(1), recordText(RECORD_TEXT_MAX));
const text = recordText(RECORD_TEXT_MAX).nullable();

const fileSchema = z.strictObject({
  format: z.enum(['qcow2', 'raw']),
  /** Bare name of the archive file this one is backed by (as the header says), or null. */
  backing: z.string().nullable(),
  /** Bytes of the file (its length on the share; the tar entry's size). */
  bytes: z.number().int().nonnegative(),
});

const snapshotSchema = z.strictObject({
  id,
  name: text,
  description: text,
  metadata: metadataSchema,
  /** The file holding the snapshot's point in time. */
  file: z.string(),
  parent: id.nullable(),
  hidden: z.boolean(),
  sizeBytes: z.number().int().nonnegative(),
  createdAt: z.string().max(64),
});

export const manifestSchema = z.strictObject({
  format: z.literal(EXPORT_FORMAT),
  version: z.literal(EXPORT_VERSION),
  createdAt: z.string().max(64),
  volume: z.strictObject({
    id,
    name: text,
    description: text,
    metadata: metadataSchema,
    bootable: z.boolean(),
    sizeBytes: z.number().int().nonnegative(),
  }),
  tree: z.strictObject({
    active: z.string(),
    files: z.record(z.string(), fileSchema),
    snapshots: z.array(snapshotSchema).max(100_000),
  }),
  /** Incremental archives: the snapshot the target must hold, and its chain's files with their checksums. */
  base: z.strictObject({
    snapshotId: id,
    files: z.record(z.string(), z.string().regex(SHA256)),
  }).nullable(),
  /**
   * Reserved for an instance export (its definition and checkpoints, issue 14): null for a volume
   * archive. An importer that meets anything else refuses it rather than dropping it silently.
   */
  instance: z.null(),
});

/*
 * The contract declares the manifest's types (drivers/contract/export-manifest.ts); the schema
 * must parse to exactly them. A field added to one and not the other fails the type check here.
 */
/** Exactly the same type (an optional or extra field on either side makes it false). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
/** Each assignable to the other, with the same keys (nested object types are compared this way). */
type Alike<A, B> = [A] extends [B] ? ([B] extends [A] ? Same<keyof A, keyof B> : false) : false;
type Parsed = z.infer<typeof manifestSchema>;
const manifestMatchesContract: [
  Alike<Parsed, ExportManifest>, Alike<Parsed['volume'], ExportManifest['volume']>, Alike<Parsed['tree'], ExportManifest['tree']>,
  Alike<NonNullable<Parsed['base']>, NonNullable<ExportManifest['base']>>,
  Same<z.infer<typeof fileSchema>, ManifestFile>, Same<z.infer<typeof snapshotSchema>, ManifestSnapshot>,
] = [true, true, true, true, true, true];
void manifestMatchesContract;

function mismatch(message: string, details: Record<string, unknown> = {}): StorageError {
  return new StorageError('ARCHIVE_MANIFEST_MISMATCH', message, { details });
}

/** Files of the archive's tree that the stream itself carries (all but an incremental base's). */
export function carriedFiles(m: ExportManifest): string[] {
  return orderedFiles(m).filter((f) => m.base?.files[f] === undefined);
}

/**
 * Every file of the tree, each after its backing file (roots first): the order of the archive.
 * Linear and without recursion: a hostile manifest's chain may be thousands of files deep.
 */
export function orderedFiles(m: ExportManifest): string[] {
  const files = m.tree.files;
  const out: string[] = [];
  const placed = new Set<string>();
  for (const start of Object.keys(files).sort()) {
    // The chain below `start` down to a root or a file already placed, then placed root first.
    const chain: string[] = [];
    const onChain = new Set<string>();
    for (let name: string | null = start; name !== null && !placed.has(name); name = Object.hasOwn(files, name) ? (files[name]?.backing ?? null) : null) {
      if (onChain.has(name)) throw mismatch('the manifest\'s backing names form a loop', { file: name });
      onChain.add(name);
      chain.push(name);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const name = chain[i] as string;
      placed.add(name);
      out.push(name);
    }
  }
  return out;
}

/**
 * The manifest is as hostile as the files: every name a bare file name of the source volume,
 * every backing and snapshot file one of the archive's own files, one owner per file, the active
 * file owned by none, parents as the files say. Refusals: FILE_NAME_UNSAFE, IMAGE_UNSAFE_BACKING,
 * ARCHIVE_MANIFEST_MISMATCH.
 */
export function assertManifestConsistent(m: ExportManifest): void {
  const vid = m.volume.id;
  // Own keys only: `m.tree.files.constructor` is Object's, not a file of the archive.
  const isFile = (name: string): boolean => Object.hasOwn(m.tree.files, name);
  const own = (name: string, what: string): void => {
    if (!isOwnFileName(name, vid)) {
      throw new StorageError('FILE_NAME_UNSAFE', `manifest: ${what} ${JSON.stringify(name)} is not a file of volume ${vid}`, { details: { name, what } });
    }
  };
  for (const [name, f] of Object.entries(m.tree.files)) {
    own(name, 'file');
    if (f.backing !== null && !isFile(f.backing)) {
      throw new StorageError('IMAGE_UNSAFE_BACKING', `manifest: ${name} is backed by ${JSON.stringify(f.backing)}, not a file of the archive`, {
        details: { file: name, backingFile: f.backing, reason: 'outside-archive' },
      });
    }
  }
  if (!isFile(m.tree.active)) throw mismatch(`manifest: active file ${m.tree.active} is not among its files`);
  orderedFiles(m);
  const owners = new Map<string, string>();
  const ids = new Set<string>();
  for (const s of m.tree.snapshots) {
    own(s.file, `file of snapshot ${s.id}`);
    if (ids.has(s.id)) throw mismatch(`manifest: snapshot ${s.id} listed twice`);
    ids.add(s.id);
    if (!isFile(s.file)) throw mismatch(`manifest: snapshot ${s.id} owns ${s.file}, not a file of the archive`);
    if (s.file === m.tree.active) throw mismatch(`manifest: snapshot ${s.id} owns the active file`);
    if (owners.has(s.file)) throw mismatch(`manifest: ${s.file} owned by two snapshots`);
    owners.set(s.file, s.id);
  }
  for (const s of m.tree.snapshots) {
    const backing = m.tree.files[s.file]?.backing ?? null;
    const expected = backing === null ? null : owners.get(backing) ?? null;
    if (s.parent !== expected) throw mismatch(`manifest: snapshot ${s.id} names parent ${s.parent}, its file sits on ${expected}`);
  }
  for (const name of Object.keys(m.tree.files)) {
    if (name !== m.tree.active && !owners.has(name)) throw mismatch(`manifest: ${name} is neither the active file nor a snapshot's`);
  }
  for (const name of Object.keys(m.base?.files ?? {})) {
    if (!isFile(name)) throw mismatch(`manifest: base file ${name} is not a file of the tree`);
  }
}

/**
 * A manifest's text as JSON (ARCHIVE_CORRUPT when it is not). JSON.parse keeps a `__proto__` key
 * as an own property, and a parsed record would then drop it silently (a metadata key lost on the
 * way): it is refused anywhere in the text, as the API refuses it as a metadata key.
 */
function manifestJson(raw: string): unknown {
  let json: unknown;
  let protoKey = false;
  try {
    json = JSON.parse(raw, (key, value: unknown) => {
      if (key === '__proto__') protoKey = true;
      return value;
    });
  } catch (err) {
    throw new StorageError('ARCHIVE_CORRUPT', `${MANIFEST_NAME} is not JSON`, { cause: err });
  }
  if (protoKey) throw new StorageError('ARCHIVE_CORRUPT', `${MANIFEST_NAME} has a key "__proto__"`, { details: { reason: 'manifest-schema' } });
  return json;
}

/**
 * A manifest's text in the shape `schema` gives (a volume's or an instance's manifest):
 * ARCHIVE_CORRUPT when it is not JSON or does not fit, naming the first issues.
 */
export function manifestOfSchema<T>(schema: z.ZodType<T>, raw: string): T {
  const parsed = schema.safeParse(manifestJson(raw));
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new StorageError('ARCHIVE_CORRUPT', `${MANIFEST_NAME}: ${issues}`, { details: { reason: 'manifest-schema' } });
  }
  return parsed.data;
}

/** Parse and check a manifest's text (ARCHIVE_CORRUPT when it is not one). */
export function parseManifest(raw: string): ExportManifest {
  const m = manifestOfSchema(manifestSchema, raw);
  assertManifestConsistent(m);
  return m;
}

/** `sha256sum` format: one "<hex>  <name>" line per file. */
export function formatChecksums(sums: ReadonlyMap<string, string>): string {
  return [...sums].map(([name, sum]) => `${sum}  ${name}\n`).join('');
}

export function parseChecksums(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of raw.split('\n')) {
    if (line === '') continue;
    const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined || out.has(m[2])) {
      throw new StorageError('ARCHIVE_CORRUPT', `${CHECKSUMS_NAME}: malformed line ${JSON.stringify(line.slice(0, 200))}`);
    }
    out.set(m[2], m[1]);
  }
  return out;
}
