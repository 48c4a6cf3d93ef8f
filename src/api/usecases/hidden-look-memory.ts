/**
 * What the collectible-hidden sweep saw at its last look at a volume: the volume's and its
 * snapshots' rows, as a key, when its tree held nothing to collect. A volume whose rows have not
 * changed since is not read again (a hidden snapshot with two dependants legitimately stays
 * hidden; without this every sweep would read its info file for ever): every change of a tree goes
 * through an operation, and every operation changes a row. A volume is looked at again anyway
 * once `refreshMs` has passed since the last look, so that a tree changed past the database
 * (a host's work a crash kept out of it, an admin's hand) is still seen, only later.
 */
import type { SnapshotRecord, VolumeRecord } from '../../db/records.js';

/** At most this long between two reads of a volume's tree by the sweep. */
export const HIDDEN_LOOK_REFRESH_MS = 10 * 60_000;

/** The rows that any change of the volume's tree changes (status, hidden flags, update times). */
export function lookKey(vol: Pick<VolumeRecord, 'status' | 'updatedAt'>, rows: readonly Pick<SnapshotRecord, 'id' | 'status' | 'hidden' | 'updatedAt'>[]): string {
  const snaps = [...rows].sort((a, b) => a.id.localeCompare(b.id)).map((r) => `${r.id}:${r.status}:${r.hidden ? 1 : 0}:${r.updatedAt.getTime()}`);
  return [vol.status, vol.updatedAt.getTime(), ...snaps].join('|');
}

export class HiddenLookMemory {
  private readonly seen = new Map<string, { key: string; at: number }>();

  constructor(private readonly refreshMs = HIDDEN_LOOK_REFRESH_MS) {}

  /** True when the volume's rows are those of its last fruitless look, and that look is recent. */
  unchanged(volumeId: string, key: string, now: number): boolean {
    const s = this.seen.get(volumeId);
    return s !== undefined && s.key === key && now - s.at < this.refreshMs;
  }

  /** The volume's tree held nothing to collect with these rows. */
  nothingAt(volumeId: string, key: string, now: number): void {
    this.seen.set(volumeId, { key, at: now });
  }

  forget(volumeId: string): void {
    this.seen.delete(volumeId);
  }

  /** Only volumes that still have hidden snapshots are kept. */
  keepOnly(volumeIds: ReadonlySet<string>): void {
    for (const id of this.seen.keys()) if (!volumeIds.has(id)) this.seen.delete(id);
  }
}
