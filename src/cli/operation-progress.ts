/**
 * What `--wait` and `operation watch` show of a running operation, as pure functions of the
 * operation's view (GET /v3/operations/{id}) and the CLI's clock:
 *
 *   delete_snapshot: commit into volume-<id>.<snap> [#########.........]  50% 512.0 MiB / 1.0 GiB  64.0 MiB/s  ETA 0:08
 *   delete_snapshot: finish (commit into volume-<id>.<snap>, 1.0 GiB copied)
 *   delete_snapshot [##############################] 100% succeeded: commit into volume-<id>.<snap>, 1.0 GiB in 0:16 (64.0 MiB/s)
 *
 * A running operation never shows 100%: its last steps may have no measure (a rebase, the info
 * write), and those are shown by name rather than as a percentage that sits still.
 */
import { humanBytes } from './progress-bar.js';
import { progressBar } from './render.js';

/** The wire shape of an operation's phase, as the API declares it (a type only: nothing of the API is loaded). */
export type { PhaseView } from '../api/views/operation-phase-view.js';
import type { PhaseView } from '../api/views/operation-phase-view.js';

export interface OperationView {
  kind: string;
  state: string;
  progress: number;
  error?: string | null;
  started_at?: string | null;
  finished_at?: string | null;
  /** Absent from services that report no phases. */
  phase?: PhaseView | null;
}

/** Where the current phase was first seen (the CLI's clock, its bytes then): the base of rate and ETA. */
export interface PhaseClock {
  phase: string | null;
  since: number;
  bytesAtStart: number;
}

/**
 * The clock after one more poll: kept while the phase is the same, restarted when it changes (a
 * phase is its name and target: a delete that then merges a hidden snapshot commits twice).
 */
export function tick(clock: PhaseClock | null, op: OperationView, now: number): PhaseClock {
  const phase = op.phase ? `${op.phase.name} ${op.phase.into ?? ''}`.trim() : null;
  if (clock !== null && clock.phase === phase) return clock;
  return { phase, since: now, bytesAtStart: op.phase?.bytes_done ?? 0 };
}

/** m:ss (h:mm:ss past an hour); unknown: --:--. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const mmss = `${Math.floor((s % 3600) / 60)}:${String(s % 60).padStart(2, '0')}`;
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mmss.padStart(5, '0')}` : mmss;
}

/** Bytes per second since the phase was first seen; null before any time or byte has passed. */
export function rate(clock: PhaseClock, bytesDone: number, now: number): number | null {
  const seconds = (now - clock.since) / 1000;
  const moved = bytesDone - clock.bytesAtStart;
  return seconds > 0 && moved > 0 ? moved / seconds : null;
}

/** "commit into <file>" (with the bytes when `withBytes`), or the phase's name alone. */
function what(p: PhaseView, withBytes: boolean): string {
  const where = p.direction !== null && p.into !== null ? `${p.direction} into ${p.into}` : p.name;
  return withBytes && p.bytes_total !== null ? `${where}, ${humanBytes(p.bytes_total)}` : where;
}

/** The step after the copy of a merge or a clone: named with what it ends. */
function finishing(p: PhaseView): string {
  return p.direction === null ? 'finish' : `finish (${what(p, false)}${p.bytes_total === null ? '' : `, ${humanBytes(p.bytes_total)} copied`})`;
}

/** The line of a running operation (redrawn on a terminal). */
export function runningLine(op: OperationView, clock: PhaseClock, now: number): string {
  const p = op.phase ?? null;
  const percent = Math.max(0, Math.min(100, Math.floor(op.progress)));
  if (p === null) return percent >= 100 ? `${op.kind}: finishing` : `${op.kind} ${progressBar(percent)}`;
  if (p.name === 'finish') return `${op.kind}: ${finishing(p)}`;
  if (!p.measured || percent >= 100) return `${op.kind}: ${what(p, true)} (${p.measured ? 'copied, finishing' : 'not measured'})`;
  const head = `${op.kind}: ${what(p, false)} ${progressBar(percent)}`;
  if (p.bytes_done === null || p.bytes_total === null) return head;
  const r = rate(clock, p.bytes_done, now);
  const eta = r === null ? '--:--' : duration((p.bytes_total - p.bytes_done) / r);
  return `${head} ${humanBytes(p.bytes_done)} / ${humanBytes(p.bytes_total)}  ${r === null ? '--' : humanBytes(r)}/s  ETA ${eta}`;
}

/** The line a non-terminal gets once per phase (no redraws). */
export function phaseLine(op: OperationView): string {
  const p = op.phase ?? null;
  return p === null ? `${op.kind}: running` : `${op.kind}: ${p.name === 'finish' ? finishing(p) : what(p, true)}`;
}

/** The one line an ended operation gets: its state, the merge or copy it did (bytes, time, rate), or its error. */
export function finalLine(op: OperationView): string {
  const p = op.phase ?? null;
  const started = Date.parse(op.started_at ?? '');
  const seconds = (Date.parse(op.finished_at ?? '') - started) / 1000;
  if (op.state === 'succeeded') {
    const took = Number.isFinite(seconds) ? ` in ${duration(seconds)}` : '';
    if (p === null || p.bytes_total === null) return `${op.kind} ${progressBar(100)} succeeded${took}`;
    const speed = Number.isFinite(seconds) && seconds > 0 ? ` (${humanBytes(p.bytes_total / seconds)}/s)` : '';
    return `${op.kind} ${progressBar(100)} succeeded: ${what(p, true)}${took}${speed}`;
  }
  const at = p === null ? `at ${Math.floor(op.progress)}%` : `during ${p.name === 'finish' ? finishing(p) : what(p, false)}`;
  return `${op.kind} ${op.state} ${at}${op.error ? `: ${op.error}` : ''}`;
}
