/** Attachments in Cinder's shape (cinder/api/v3/views/attachments.py): a summary, and the detail with the connection info. */
import type { ConnectionInfo } from '../../../drivers/contract/volume-driver.js';
import type { AttachmentRecord } from '../../db/records.js';
import { ts } from './links.js';

export function attachmentSummary(a: AttachmentRecord): Record<string, unknown> {
  return { id: a.id, status: a.status, instance: a.instanceUuid, volume_id: a.volumeId };
}

export function attachmentDetail(a: AttachmentRecord, connectionInfo: ConnectionInfo | null): Record<string, unknown> {
  return {
    ...attachmentSummary(a), attached_at: ts(a.attachedAt), detached_at: ts(a.detachedAt), attach_mode: a.attachMode,
    // Cinder returns the connection info (with the attachment's id in it) to the compute host.
    connection_info: connectionInfo === null ? null : { ...connectionInfo, attachment_id: a.id },
  };
}
