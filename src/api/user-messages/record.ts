/**
 * Leaves the user message of a failed operation (events.ts decides which), in the transaction that
 * records its end: the message exists exactly when the failure is committed.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'sequelize';
import { currentRequest } from '../../../lib/core/request-context.js';
import type { OperationRecord } from '../../db/records.js';
import type { ServiceDeps } from '../context.js';
import { plannedMessage } from './events.js';

export async function leaveUserMessage(
  deps: Pick<ServiceDeps, 'repos' | 'config'>, op: OperationRecord, end: { state: string; code?: string; recovered: boolean }, t?: Transaction,
): Promise<void> {
  const planned = plannedMessage(op, end);
  if (planned === null) return;
  const now = new Date();
  await deps.repos.userMessages.insert({
    id: randomUUID(), projectId: op.projectId, ...planned, messageLevel: 'ERROR', operationId: op.id,
    // The request that started the operation (the async context carries it into its background
    // work); a recovery pass runs outside any request and gets an id of its own.
    requestId: currentRequest()?.requestId ?? `req-${randomUUID()}`,
    createdAt: now, expiresAt: new Date(now.getTime() + deps.config.api.messageTtlSeconds * 1000),
  }, t);
}
