/**
 * Withdraws the user message of a failure that a recovery pass later made good (an extend that
 * failed past its commit point and was completed from the info file): the message would tell the
 * user the volume did not grow while it did. Withdrawn, not answered by a second message: Cinder
 * has no precedent and only ERROR-level messages, so a "completed" message would read as a new
 * failure; and a message exists exactly when the failure it reports stands (record.ts leaves it
 * in the transaction that commits the failure, this removes it in the one that commits the
 * completion). The operation keeps its error and the log records the completion.
 */
import type { Transaction } from 'sequelize';
import type { OperationRecord } from '../../db/records.js';
import type { ServiceDeps } from '../context.js';

/** Inside the transaction that records the completion; how many messages went. */
export function withdrawUserMessages(deps: Pick<ServiceDeps, 'repos'>, op: Pick<OperationRecord, 'id'>, t: Transaction): Promise<number> {
  return deps.repos.userMessages.removeOfOperation(op.id, t);
}
