/**
 * The rows an incremental import onto a volume writes after its info file (its commit point):
 * planned from the archive's manifest before any byte is written and recorded with the import's
 * operation (its payload), so that the settle pass can write them when the process died between
 * the info write and the rows: the snapshots' names, metadata and source ids exist only in the
 * archive. Pure: planning, encoding, validating; writing them is applyOntoRows.
 */
import type { Transaction } from 'sequelize';
import { z } from 'zod';
import { StorageError } from '../../../lib/core/errors.js';
import { giBFromBytes } from '../../../lib/core/gib.js';
import type { ExportManifest } from '../../../drivers/contract/export-manifest.js';
import type { ServiceDeps } from '../context.js';
import { IMPORT_SOURCE_KEY } from './volume-import.js';

/** A payload larger than this is refused before the import writes anything (it is read back whole at start). */
export const MAX_ONTO_PAYLOAD_CHARS = 2 * 1024 * 1024;

const row = z.strictObject({
  id: z.string().min(1).max(36),
  // The archive's own texts: their limits are the manifest's; the payload's size bounds them all.
  name: z.string().nullable(),
  description: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  hidden: z.boolean(),
  sizeGiB: z.number().int().nonnegative(),
});

const schema = z.strictObject({
  kind: z.literal('import_onto'),
  volumeId: z.string().min(1).max(36),
  projectId: z.string().min(1).max(64),
  userId: z.string().min(1).max(255),
  /** The volume's size once the import committed. */
  sizeGiB: z.number().int().positive(),
  /** Every snapshot of the new tree: existing rows take these texts, the others are inserted. */
  rows: z.array(row).max(10_000),
  /** Rows of snapshots the source had deleted: marked deleted. */
  dropped: z.array(z.string().min(1).max(36)).max(10_000),
});

export type OntoRows = z.infer<typeof schema>;

/** The rows for `m` paired by `ids` (source id -> target id); `existing`: the target's snapshot ids now. */
export function planOntoRows(m: ExportManifest, ids: Readonly<Record<string, string>>, existing: readonly string[], owner: { volumeId: string; projectId: string; userId: string }): OntoRows {
  const rows = m.tree.snapshots.map((s) => {
    const id = ids[s.id];
    if (id === undefined) throw new StorageError('INTERNAL', `snapshot ${s.id} of the archive has no target id`);
    return { id, name: s.name, description: s.description, metadata: { ...s.metadata, [IMPORT_SOURCE_KEY]: s.id }, hidden: s.hidden, sizeGiB: Math.ceil(s.sizeBytes / 1024 ** 3) };
  });
  const kept = new Set(rows.map((r) => r.id));
  return { kind: 'import_onto', ...owner, sizeGiB: giBFromBytes(m.volume.sizeBytes), rows, dropped: existing.filter((id) => !kept.has(id)) };
}

export function encodeOntoRows(p: OntoRows): string {
  const text = JSON.stringify(p);
  if (text.length > MAX_ONTO_PAYLOAD_CHARS) {
    throw new StorageError('INVALID_INPUT', `the archive's snapshot rows take ${text.length} characters; at most ${MAX_ONTO_PAYLOAD_CHARS} are accepted`, { details: { chars: text.length, max: MAX_ONTO_PAYLOAD_CHARS } });
  }
  return text;
}

/** The recorded payload, validated like input: null when absent, not JSON or not this shape (the caller never guesses from it). */
export function parseOntoRows(text: string | null): OntoRows | null {
  if (text === null || text.length > MAX_ONTO_PAYLOAD_CHARS) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  const got = schema.safeParse(raw);
  return got.success ? got.data : null;
}

/**
 * Writes the rows in `t`. Idempotent: a row already there takes the archive's texts (the same
 * values again after a crash), a missing one is inserted, dropped rows marked deleted again.
 */
export async function applyOntoRows(deps: ServiceDeps, p: OntoRows, t: Transaction): Promise<void> {
  const there = new Set(await deps.repos.snapshots.existingIds(p.rows.map((r) => r.id), t));
  for (const r of p.rows) {
    const text = { name: r.name, description: r.description, metadata: r.metadata, hidden: r.hidden, sizeGiB: r.sizeGiB };
    if (there.has(r.id)) {
      await deps.repos.snapshots.update(r.id, text, t);
    } else {
      await deps.repos.snapshots.insertFound({ id: r.id, volumeId: p.volumeId, projectId: p.projectId, userId: p.userId, status: 'available', progress: 100, ...text }, t);
    }
  }
  await deps.repos.snapshots.markDeleted(p.dropped, t);
  await deps.repos.volumes.update(p.volumeId, { sizeGiB: p.sizeGiB }, t);
}
