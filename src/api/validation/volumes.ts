import { z } from 'zod';
import { listQueryBase, looseBool, metadata, namingFields, sizeGiB, uuid } from './common.js';

export const volumeListQuery = z.strictObject({
  ...listQueryBase,
  bootable: looseBool.optional(),
  display_name: z.string().max(255).optional(),
});

/**
 * Cinder's create body. The cinder client sends every key, most as null; what this product does
 * not have (images, backups, groups, types) must be null or absent.
 */
export const volumeCreateBody = (maxGiB: number) => z.strictObject({
  volume: z.strictObject({
    size: sizeGiB(maxGiB),
    ...namingFields,
    metadata: metadata.optional(),
    snapshot_id: uuid.nullable().optional(),
    source_volid: uuid.nullable().optional(),
    bootable: looseBool.optional(),
    volume_type: z.string().max(255).nullable().optional(),
    availability_zone: z.literal('nova').nullable().optional(),
    imageRef: z.null().optional(),
    backup_id: z.null().optional(),
    consistencygroup_id: z.null().optional(),
    group_id: z.null().optional(),
    multiattach: z.literal(false).nullable().optional(),
  }),
  'OS-SCH-HNT:scheduler_hints': z.record(z.string(), z.unknown()).nullable().optional(),
});

export const volumeUpdateBody = z.strictObject({
  volume: z.strictObject({
    ...namingFields,
    metadata: metadata.optional(),
  }).refine((v) => Object.keys(v).length > 0, 'nothing to update'),
});

export const volumeDeleteQuery = z.strictObject({ cascade: looseBool.optional(), force: looseBool.optional() });
