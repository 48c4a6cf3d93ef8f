/** The API's view of a user message, in Cinder's shape (guaranteed_until is Cinder's name of the expiry). */
import type { Request } from 'express';
import type { UserMessageRow } from '../../db/repositories/user-messages.js';
import { links, ts } from './links.js';

export function messageView(req: Request, m: UserMessageRow): Record<string, unknown> {
  return {
    id: m.id,
    event_id: m.eventId,
    message_level: m.messageLevel,
    user_message: m.userMessage,
    resource_type: m.resourceType,
    resource_uuid: m.resourceUuid,
    request_id: m.requestId,
    created_at: ts(m.createdAt),
    guaranteed_until: ts(m.expiresAt),
    expires_at: ts(m.expiresAt),
    links: links(req, m.projectId, 'messages', m.id),
  };
}
