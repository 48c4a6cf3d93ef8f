/**
 * Snapshots in OpenStack Block Storage v3 shape; `progress` is a real percentage. As in Cinder, a
 * snapshot carries no `links` of its own (volumes do); a list page has only `snapshots_links`.
 * (They were a third of a page's bytes, and bytes written dominate the cost of a list page.)
 */
import type { Request } from 'express';
import type { SnapshotRecord } from '../../db/records.js';
import { ts } from './links.js';

export function snapshotDetail(req: Request, s: SnapshotRecord, admin: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: s.id, name: s.name, description: s.description, status: s.status, size: s.sizeGiB,
    volume_id: s.volumeId, created_at: ts(s.createdAt), updated_at: ts(s.updatedAt), metadata: s.metadata,
    user_id: s.userId, group_snapshot_id: null, consumes_quota: true,
    'os-extended-snapshot-attributes:progress': `${s.progress}%`,
    'os-extended-snapshot-attributes:project_id': s.projectId,
  };
  if (admin) out.hidden = s.hidden;
  return out;
}

export function snapshotSummary(req: Request, s: SnapshotRecord, admin: boolean): Record<string, unknown> {
  // Cinder's summary of a snapshot is its detail without the extended attributes. Built, not
  // deleted from a detail: `delete` turns the object into a slow dictionary for JSON.stringify.
  const out: Record<string, unknown> = {
    id: s.id, name: s.name, description: s.description, status: s.status, size: s.sizeGiB,
    volume_id: s.volumeId, created_at: ts(s.createdAt), updated_at: ts(s.updatedAt), metadata: s.metadata,
    user_id: s.userId, group_snapshot_id: null, consumes_quota: true,
  };
  if (admin) out.hidden = s.hidden;
  return out;
}
