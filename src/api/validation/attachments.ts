/** Request schemas of the attachments API (Cinder 3.27; mode from 3.54). */
import { z } from 'zod';
import { listQueryBase, uuid } from './common.js';

/** A connector as os-brick builds it: `host` is what matters here (the registry's key); the rest is passed through, bounded. */
export const connector = z.object({ host: z.string().min(1).max(255) }).catchall(z.unknown())
  .refine((c) => JSON.stringify(c).length <= 4096, 'connector too large');

export const attachmentCreate = (withMode: boolean) => z.strictObject({
  attachment: z.strictObject({
    volume_uuid: uuid,
    // Optional in Cinder's schema (python-cinderclient leaves it out when it has none); Nova always sends it.
    instance_uuid: uuid.nullable().optional(),
    // `cinder attachment-create` without --connect sends {}: no connector, as Cinder reads it.
    connector: z.union([z.strictObject({}).transform(() => null), connector]).nullable().optional(),
    ...(withMode ? { mode: z.enum(['rw', 'ro']).optional() } : {}),
  }),
});

export const attachmentUpdate = z.strictObject({ attachment: z.strictObject({ connector }) });

export const attachmentAction = z.strictObject({ 'os-complete': z.union([z.null(), z.strictObject({})]) });

export const attachmentListQuery = z.strictObject({
  all_tenants: listQueryBase.all_tenants,
  project_id: listQueryBase.project_id,
  volume_id: uuid.optional(),
  instance_id: uuid.optional(),
  limit: listQueryBase.limit,
});

export const attachmentPath = z.strictObject({ project_id: z.string().optional(), attachment_id: uuid });
