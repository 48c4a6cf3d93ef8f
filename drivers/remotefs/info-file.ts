/**
 * volume-<vid>.info: the truth about a volume's chains.
 *
 * Our own tree lives under the key "qcowshare"; Cinder's keys sit beside it with Cinder's
 * meaning ("active": the active file; "<snapshot id>": the overlay made when that snapshot was
 * taken), kept current for snapshots on the active chain only (a branch has no Cinder form).
 *
 * Written atomically: temp file in the same directory, fsync, rename, fsync of the directory.
 * A crash leaves either the old or the new file, never a torn one.
 */
import { closeSync, readSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { StorageError, isStorageError } from '../../lib/core/errors.js';
import { writeFileAtomic, writeFileNew } from '../../lib/core/durable-file.js';
import { openInDirSync } from '../../lib/core/safe-open.js';
import { intentSchema } from './intents.js';
import { assertOwnFileName, infoFileName, isOwnFileName } from '../../lib/core/volume-names.js';

export { fsyncDir } from '../../lib/core/durable-file.js';

export const INFO_VERSION = 1;

const formatSchema = z.enum(['qcow2', 'raw']);

/** One file of the volume and what it is backed by (bare names only). */
const fileSchema = z.strictObject({
  format: formatSchema,
  backing: z.string().nullable(),
  /**
   * What identified the file when it was last verified frozen (chain-check.ts fileIdentity):
   * while it still matches, the header is not read again. Absent on active files and old trees.
   */
  identity: z.string().max(200).optional(),
});

const snapshotSchema = z.strictObject({
  id: z.string().uuid(),
  /** The file holding this snapshot's point in time (frozen once the snapshot is taken). */
  file: z.string(),
  /** The snapshot whose file `file` is backed by (null for a root). */
  parent: z.string().uuid().nullable(),
  hidden: z.boolean(),
  /** Virtual size in bytes when the snapshot was taken. */
  sizeBytes: z.number().int().nonnegative(),
  createdAt: z.string(),
});

export const treeSchema = z.strictObject({
  version: z.literal(INFO_VERSION),
  volumeId: z.string().uuid(),
  active: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  files: z.record(z.string(), fileSchema),
  snapshots: z.record(z.string(), snapshotSchema),
  intent: intentSchema.nullable(),
});

/**
 * treeSchema compiled by zod (z.compile): the same rules and the same issues on failure (zod
 * falls back to its runtime parser for the report), at about a third of the cost; every
 * operation parses the tree when it reads the info file and again when it writes it, and at the
 * depth cap the runtime parse cost ~0.3 ms each. strict: a schema zod cannot compile fails at
 * load, not silently slower.
 */
export const compiledTreeSchema = z.compile(treeSchema, { strict: true });

export type VolumeTree = z.infer<typeof treeSchema>;
export type TreeSnapshot = z.infer<typeof snapshotSchema>;
export type TreeFile = z.infer<typeof fileSchema>;
export type { Intent } from './intents.js';

export const OWN_KEY = 'qcowshare';

export { infoFileName };

/**
 * Every file name a tree holds (active, files and their backings, snapshot files, the intent's
 * files) must be a bare name of the tree's own volume before anything opens it: an info file is
 * as hostile as an image (a planted `"active": "../../../etc/passwd"`).
 */
export function assertTreeNames(tree: VolumeTree, where: string): void {
  // The message is built only for a refusal: a deep tree has hundreds of names to test.
  const check = (name: unknown, what: () => string) => {
    if (!isOwnFileName(name, tree.volumeId)) assertOwnFileName(name, tree.volumeId, { what: `${where}: ${what()}` });
  };
  check(tree.active, () => 'active');
  for (const [name, rec] of Object.entries(tree.files)) {
    check(name, () => 'file');
    if (rec.backing !== null) check(rec.backing, () => `backing of ${name}`);
  }
  for (const s of Object.values(tree.snapshots)) check(s.file, () => `file of snapshot ${s.id}`);
  for (const [role, name] of Object.entries(tree.intent?.files ?? {})) if (name !== null) check(name, () => `intent file ${role}`);
}

/**
 * Cinder's view: "active" and, for every snapshot S on the active chain, the overlay made when S
 * was taken, i.e. the file directly above S's file on the path to the active file.
 */
export function cinderKeys(tree: VolumeTree): Record<string, string> {
  const out: Record<string, string> = { active: tree.active };
  const ownerOf = new Map<string, string>();
  for (const s of Object.values(tree.snapshots)) ownerOf.set(s.file, s.id);
  let child = tree.active;
  let parentFile = tree.files[child]?.backing ?? null;
  const seen = new Set<string>();
  while (parentFile !== null && !seen.has(parentFile)) {
    seen.add(parentFile);
    const sid = ownerOf.get(parentFile);
    if (sid !== undefined && !tree.snapshots[sid]?.hidden) out[sid] = child;
    child = parentFile;
    parentFile = tree.files[child]?.backing ?? null;
  }
  return out;
}

export function serializeInfo(tree: VolumeTree): string {
  return `${JSON.stringify({ ...cinderKeys(tree), [OWN_KEY]: tree }, null, 2)}\n`;
}

/** Parse an info file's text; returns null when it has no tree of ours (e.g. written by Cinder). */
export function parseInfo(text: string, where: string): { tree: VolumeTree | null; raw: Record<string, unknown> } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new StorageError('INFO_FILE_CORRUPT', `${where}: not JSON`, { cause: err });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new StorageError('INFO_FILE_CORRUPT', `${where}: not a JSON object`);
  }
  const own = (raw as Record<string, unknown>)[OWN_KEY];
  if (own === undefined) return { tree: null, raw: raw as Record<string, unknown> };
  const parsed = compiledTreeSchema.safeParse(own);
  if (!parsed.success) {
    throw new StorageError('INFO_FILE_CORRUPT', `${where}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  assertTreeNames(parsed.data, path.basename(where));
  return { tree: parsed.data, raw: raw as Record<string, unknown> };
}

/** Cinder's keys ("active" and "<snapshot id>": overlay) must name this volume's own files. */
export function assertCinderNames(raw: Record<string, unknown>, volumeId: string): void {
  for (const [key, value] of Object.entries(raw)) {
    if (key === OWN_KEY) continue;
    assertOwnFileName(value, volumeId, { what: `Cinder info file entry ${JSON.stringify(key)}` });
  }
}

/**
 * An info file is read whole into memory on every operation and on every listing of what could be
 * managed, and anyone with write access to the share can write one: beyond this it is refused
 * unread. A tree with thousands of snapshots stays far below it.
 */
export const MAX_INFO_BYTES = 8 * 1024 * 1024;

function infoTooLarge(dir: string, name: string): StorageError {
  return new StorageError('INFO_FILE_CORRUPT', `${path.join(dir, name)}: larger than ${MAX_INFO_BYTES} bytes; not read`, { details: { file: name } });
}

/**
 * The whole file up to the bound (checked again while reading: it may have grown since the
 * fstat). Synchronous, as the chain check's header reads: the file is read on every operation,
 * and a few microseconds of blocking calls cost less than the promise round trips through the
 * thread pool that they replace (an open, an fstat, a read and a close per operation).
 */
function readBounded(fd: number, size: number, dir: string, name: string): string {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    // Sized by the fstat, so the usual file takes one read.
    const chunk = Buffer.allocUnsafe(Math.max(size + 1 - total, 4096));
    const bytesRead = readSync(fd, chunk, 0, chunk.length, total);
    if (bytesRead === 0) return Buffer.concat(chunks, total).toString('utf8');
    total += bytesRead;
    if (total > MAX_INFO_BYTES) throw infoTooLarge(dir, name);
    chunks.push(chunk.subarray(0, bytesRead));
    // A read of a regular file stops short only at its end: exactly the fstat's size, asked for
    // one byte more, is the whole file without a further read.
    if (bytesRead < chunk.length && total === size) return Buffer.concat(chunks, total).toString('utf8');
  }
}

/** An info file is opened like every file of a volume (lib/core/safe-open.ts): never followed. */
export async function readInfo(dir: string, volumeId: string): Promise<{ tree: VolumeTree | null; raw: Record<string, unknown> } | null> {
  const name = infoFileName(volumeId);
  let text: string;
  try {
    const { fd, stat } = openInDirSync(dir, name, 'read');
    try {
      if (stat.size > MAX_INFO_BYTES) throw infoTooLarge(dir, name);
      text = readBounded(fd, stat.size, dir, name);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (isStorageError(err, 'NOT_FOUND')) return null;
    throw err;
  }
  return parseInfo(text, path.join(dir, name));
}

/** Write the info file atomically (temp, fsync, rename, fsync dir). */
/** `fresh`: a new volume's first info file, never written over an entry already there (EEXIST: writeFileNew). */
export async function writeInfo(dir: string, tree: VolumeTree, options: { mode?: number; fresh?: boolean } = {}): Promise<void> {
  const parsed = compiledTreeSchema.parse(tree);
  const write = options.fresh === true ? writeFileNew : writeFileAtomic;
  await write(path.join(dir, infoFileName(parsed.volumeId)), serializeInfo(parsed), { mode: options.mode ?? 0o640 });
}

/** A fresh tree for a new volume whose only file is `file`. */
export function newTree(volumeId: string, file: string, format: 'qcow2' | 'raw', sizeBytes: number): VolumeTree {
  return {
    version: INFO_VERSION,
    volumeId,
    active: file,
    sizeBytes,
    files: { [file]: { format, backing: null } },
    snapshots: {},
    intent: null,
  };
}
