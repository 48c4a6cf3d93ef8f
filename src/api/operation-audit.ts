/**
 * The end of an asynchronous operation, for the audit trail and the metrics: one audit line with
 * its outcome (under the request id of the request that started it, carried by the async
 * context) and its duration by kind and outcome.
 */
import { recordOperationDuration } from '../../lib/core/metrics-registry.js';
import { currentRequest } from '../../lib/core/request-context.js';
import type { OperationRecord } from '../db/records.js';
import type { ServiceDeps } from './context.js';

/** `failure`: absent when the operation succeeded; its `code` when the failure has a stable one. */
export function operationEnded(deps: Pick<ServiceDeps, 'log'>, op: OperationRecord, failure?: { code?: string }): void {
  const outcome = failure ? 'failed' : 'succeeded';
  const seconds = (Date.now() - op.startedAt.getTime()) / 1000;
  recordOperationDuration(op.kind, outcome, seconds);
  const actor = currentRequest()?.actor() ?? {};
  deps.log.info({
    audit: {
      action: op.kind, operation: op.id, volume: op.volumeId, ...(op.snapshotId ? { snapshot: op.snapshotId } : {}),
      // user/project/roles: who asked (as in the access line); ownerProject: whose volume it is (differs for an admin).
      ownerProject: op.projectId, outcome, durationMs: Math.round(seconds * 1000), ...actor, ...(failure?.code ? { errorCode: failure.code } : {}),
    },
  }, 'audit');
}
