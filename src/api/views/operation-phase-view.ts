/**
 * An operation's phase as the API shows it: the step's name, whether `progress` measures it, and
 * for a merge or a copy its direction, the file the data goes into, and bytes done of the bytes it moves.
 * Bytes done follow the step's percentage (qemu-img reports percentages, not bytes); once the
 * copy is over (an unmeasured step after it, or the operation's success) they are all the bytes.
 */
import type { OperationRecord } from '../../db/records.js';

export interface PhaseView {
  name: string;
  measured: boolean;
  direction: 'commit' | 'pull' | 'copy' | null;
  into: string | null;
  bytes_total: number | null;
  bytes_done: number | null;
}

export function phaseView(o: Pick<OperationRecord, 'phase' | 'progress' | 'state'>): PhaseView | null {
  const p = o.phase;
  if (p === null) return null;
  const total = p.moves?.bytes ?? null;
  // 'finish': the driver's step after the copy (rebases, info writes, the unlink).
  const copied = o.state === 'succeeded' || p.name === 'finish';
  const done = total === null ? null : copied ? total : p.measured ? Math.floor((total * Math.max(0, Math.min(100, o.progress))) / 100) : null;
  return { name: p.name, measured: p.measured, direction: p.moves?.direction ?? null, into: p.moves?.into ?? null, bytes_total: total, bytes_done: done };
}
