/**
 * /v3/{project_id}/messages (Cinder 3.3; filters 3.5): why an asynchronous operation failed, left
 * by endOperation (operation-end.ts). Read and delete only, as in Cinder: messages are written by
 * the service, never by clients. A member sees its project's; an admin any (all_tenants to list them).
 */
import { z } from 'zod';
import { StorageError } from '../../../lib/core/errors.js';
import { callerOf, scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { visibleMessage } from '../user-messages/visible.js';
import { listQueryBase, noQuery, uuid } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { baseUrl } from '../views/links.js';
import { messageView } from '../views/message-view.js';
import { listScope } from './list-params.js';
import type { RouteDef } from './route.js';

const listQuery = z.strictObject({
  limit: listQueryBase.limit,
  marker: listQueryBase.marker,
  all_tenants: listQueryBase.all_tenants,
  project_id: listQueryBase.project_id,
  resource_uuid: uuid.optional(),
  resource_type: z.enum(['VOLUME', 'VOLUME_SNAPSHOT']).optional(),
  event_id: z.string().regex(/^VOLUME_[A-Z_]{1,32}_\d{3}_\d{3}$/, 'must be an event id such as VOLUME_VOLUME_001_003').optional(),
  request_id: z.string().regex(/^req-[0-9a-f-]{36}$/, 'must be a request id req-<uuid>').optional(),
  message_level: z.enum(['ERROR']).optional(),
});
const messagePath = z.strictObject({ project_id: z.string().optional(), message_id: uuid });
const DEFAULT_LIMIT = 1000;

export function messageRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'get', path: '/messages', versioned: true, policy: 'message:get_all', status: 200,
      summary: 'List user messages: why asynchronous operations failed (3.3; filters resource_uuid, resource_type, event_id, request_id, message_level)',
      handler: async (req, res) => {
        const q = parse(listQuery, req.query, 'query');
        const projectId = listScope(req, q);
        const limit = q.limit ?? DEFAULT_LIMIT;
        const rows = await deps.repos.userMessages.list({
          projectId, resourceUuid: q.resource_uuid, resourceType: q.resource_type, eventId: q.event_id, requestId: q.request_id, messageLevel: q.message_level,
        }, { limit, marker: q.marker });
        if (rows === null) throw new StorageError('INVALID_INPUT', `marker ${q.marker ?? ''} is not a message of this list`, { details: { fields: [{ path: 'query.marker', message: 'not found' }] } });
        const body: Record<string, unknown> = { messages: rows.map((m) => messageView(req, m)) };
        const last = rows[rows.length - 1];
        if (rows.length === limit && last) {
          const next = new URLSearchParams({ ...(req.query as Record<string, string>), marker: last.id, limit: String(limit) });
          body.messages_links = [{ rel: 'next', href: `${baseUrl(req)}${req.baseUrl}${req.path}?${next.toString()}` }];
        }
        res.json(body);
      },
    },
    {
      method: 'get', path: '/messages/:message_id', versioned: true, policy: 'message:get', status: 200, summary: 'Show a user message',
      handler: async (req, res) => {
        const { message_id } = parse(messagePath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        res.json({ message: messageView(req, await visibleMessage(deps, callerOf(req), scopedProject(req), message_id)) });
      },
    },
    {
      method: 'delete', path: '/messages/:message_id', versioned: true, policy: 'message:delete', status: 204, summary: 'Delete a user message',
      handler: async (req, res) => {
        const { message_id } = parse(messagePath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        const m = await visibleMessage(deps, callerOf(req), scopedProject(req), message_id);
        await deps.repos.userMessages.remove(m.id);
        res.status(204).end();
      },
    },
  ];
}
