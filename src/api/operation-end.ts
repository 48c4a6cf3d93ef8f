/**
 * The one way an operation ends, whoever ends it: its own runner, a request that reports or
 * settles it (a host's finalize, an operator's forget or unmanage), or a recovery pass after a
 * crash. The row changes in the caller's transaction, with the user message of a failure
 * (user-messages/); once that commits, exactly one audit line is written (operation-audit.ts)
 * with the outcome and who ended it: a pass's line says "recovered by <pass>", so no path ends an
 * operation without a trace.
 *
 * The guard is the compare-and-set the site needs: `running` (the default: recovery passes and
 * reports, which must not overwrite an end another process recorded), `before_commit_point` (the
 * reaper), `any` (the runner, which holds the lease and records its own outcome).
 */
import type { Transaction } from 'sequelize';
import type { OperationRecord } from '../db/records.js';
import type { OperationPatch } from '../db/repositories/operations.js';
import type { ServiceDeps } from './context.js';
import { operationEnded, type EndedBy } from './operation-audit.js';
import { leaveUserMessage } from './user-messages/record.js';
import { shownText } from './shown-text.js';

export type { EndedBy } from './operation-audit.js';

export interface OperationEnd {
  state: 'succeeded' | 'failed' | 'abandoned';
  /** The recorded error text of a failed or abandoned operation. */
  error?: string;
  /** The failure's stable code, when it has one (audit's errorCode). */
  code?: string;
  by: EndedBy;
}

export type EndGuard = 'running' | 'before_commit_point' | 'any';

/**
 * The recorded error is shown to the volume's owner (operations, the console), so it names files
 * as on their share, never by this host's path (shown-text.ts); the audit line keeps the
 * text as it was, for the operator.
 */
function patchOf(deps: ServiceDeps, end: OperationEnd): OperationPatch {
  const done: OperationPatch = { state: end.state, finishedAt: new Date() };
  if (end.state === 'succeeded') return { ...done, progress: 100, error: null };
  return { ...done, error: shownText(deps, end.error ?? end.state).slice(0, 4000) };
}

async function write(deps: ServiceDeps, id: string, patch: OperationPatch, guard: EndGuard, t?: Transaction): Promise<boolean> {
  if (guard === 'running') return deps.repos.operations.updateRunning(id, patch, t);
  if (guard === 'before_commit_point') return deps.repos.operations.updateBeforeCommitPoint(id, patch, t);
  await deps.repos.operations.update(id, patch, t);
  return true;
}

/**
 * Ends the operation (`op`: its record, or its id when the caller has only that) and audits it
 * after `t` commits (at once without `t`). False, and no line, when the guard found it ended.
 */
export async function endOperation(
  deps: ServiceDeps, op: OperationRecord | string, end: OperationEnd, t?: Transaction, guard: EndGuard = 'running',
): Promise<boolean> {
  const id = typeof op === 'string' ? op : op.id;
  // Read before the write: the audit line needs the kind, volume and start, and an `any` end
  // says which end it overwrote when another had been recorded first.
  const before = typeof op === 'string' || guard === 'any' ? await deps.repos.operations.get(id, t) : op;
  if (before === null) return false;
  if (!(await write(deps, id, patchOf(deps, end), guard, t))) return false;
  await leaveUserMessage(deps, before, { state: end.state, code: end.code, recovered: 'recovery' in end.by }, t);
  const audit = () => operationEnded(deps, before, end, before.state === 'running' ? undefined : before.state);
  if (t) t.afterCommit(audit);
  else audit();
  return true;
}
