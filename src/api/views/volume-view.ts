/** Volumes in OpenStack Block Storage v3 shape (field names and types as Cinder has them). */
import type { Request } from 'express';
import type { AttachmentRecord, VolumeRecord } from '../../db/records.js';
import { links, ts } from './links.js';

export function attachmentView(a: AttachmentRecord): Record<string, unknown> {
  return {
    id: a.volumeId, attachment_id: a.id, volume_id: a.volumeId, server_id: a.instanceUuid,
    host_name: a.host, device: a.mountpoint, attached_at: ts(a.attachedAt),
    // Ours: what the coordinator reported about the guest's disk.
    coordinator_endpoint: a.coordinatorEndpoint, active_file: a.activeFile, format: a.format,
  };
}

export function volumeSummary(req: Request, v: VolumeRecord): Record<string, unknown> {
  return { id: v.id, name: v.name, links: links(req, v.projectId, 'volumes', v.id) };
}

/** A volume's type as the view names it; a row without one has the default type. */
export interface TypeName { id: string | null; name: string }

export function volumeDetail(req: Request, v: VolumeRecord, attachments: AttachmentRecord[], admin: boolean, type: TypeName = { id: null, name: '__DEFAULT__' }): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: v.id, name: v.name, description: v.description, status: v.status, size: v.sizeGiB,
    availability_zone: 'nova', created_at: ts(v.createdAt), updated_at: ts(v.updatedAt),
    attachments: attachments.map(attachmentView), volume_type: type.name, volume_type_id: type.id,
    snapshot_id: null, source_volid: null, metadata: v.metadata, links: links(req, v.projectId, 'volumes', v.id),
    user_id: v.userId, bootable: String(v.bootable), encrypted: false, replication_status: null,
    consistencygroup_id: null, multiattach: false, migration_status: null, group_id: null,
    provider_id: null, shared_targets: false, service_uuid: null, cluster_name: null, consumes_quota: true, encryption_key_id: null,
    'os-vol-tenant-attr:tenant_id': v.projectId, 'os-vol-mig-status-attr:migstat': null, 'os-vol-mig-status-attr:name_id': null,
    attach_status: v.attachStatus, format: v.format,
  };
  if (admin) out['os-vol-host-attr:host'] = v.providerLocation;
  return out;
}
