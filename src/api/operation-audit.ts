/**
 * The end of an asynchronous operation, for the audit trail and the metrics: one audit line with
 * its outcome (under the request id of the request that started it, carried by the async
 * context) and its duration by kind and outcome. Written only through endOperation
 * (operation-end.ts), once the end is committed.
 */
import { recordOperationDuration } from '../../lib/core/metrics-registry.js';
import { currentRequest } from '../../lib/core/request-context.js';
import type { OperationRecord, OperationState } from '../db/records.js';
import type { ServiceDeps } from './context.js';

/**
 * Who ended an operation: its own runner; a request that reports or settles it (`request`: the
 * action, e.g. a host's os-finalize_snapshot_metadata); or a recovery pass after a crash
 * (`recovery`: the pass's name).
 */
export type EndedBy = { runner: true } | { request: string } | { recovery: string };

export function endReason(by: EndedBy): string {
  if ('recovery' in by) return `recovered by ${by.recovery}`;
  if ('request' in by) return `ended by ${by.request}`;
  return 'ended by its operation';
}

/**
 * `end`: its outcome (a failure's `code` when it has a stable one); `overwrote`: the state an
 * earlier end had recorded, when this one replaced it.
 */
export function operationEnded(
  deps: Pick<ServiceDeps, 'log'>, op: OperationRecord,
  end: { state: 'succeeded' | 'failed' | 'abandoned'; error?: string; code?: string; by: EndedBy }, overwrote?: OperationState,
): void {
  const outcome = end.state;
  const seconds = (Date.now() - op.startedAt.getTime()) / 1000;
  recordOperationDuration(op.kind, outcome, seconds);
  // A recovery pass runs outside any request: its line names the pass as the actor.
  const actor = currentRequest()?.actor() ?? ('recovery' in end.by ? { user: 'qcowshare-recovery' } : {});
  deps.log.info({
    audit: {
      action: op.kind, operation: op.id, volume: op.volumeId, ...(op.snapshotId ? { snapshot: op.snapshotId } : {}),
      // user/project/roles: who asked (as in the access line); ownerProject: whose volume it is (differs for an admin).
      ownerProject: op.projectId, outcome, reason: endReason(end.by), durationMs: Math.round(seconds * 1000), ...actor,
      ...(end.code ? { errorCode: end.code } : {}), ...(overwrote ? { overwrote } : {}),
      // The error as the operation met it, paths of this host included: the record shows it redacted.
      ...(end.state !== 'succeeded' && end.error ? { error: end.error } : {}),
    },
  }, 'audit');
}
