/** A message the caller may see: its own project's, or any for admins and services; else MESSAGE_NOT_FOUND (no hint that it exists). */
import { StorageError } from '../../../lib/core/errors.js';
import type { UserMessageRow } from '../../db/repositories/user-messages.js';
import { seesAllProjects, type Caller, type ServiceDeps } from '../context.js';

export async function visibleMessage(deps: ServiceDeps, caller: Caller, project: string, id: string): Promise<UserMessageRow> {
  const m = await deps.repos.userMessages.get(id);
  if (m === null || (m.projectId !== project && !seesAllProjects(caller))) {
    throw new StorageError('MESSAGE_NOT_FOUND', `message ${id} could not be found`, { details: { message_id: id } });
  }
  return m;
}
