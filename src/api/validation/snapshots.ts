import { z } from 'zod';
import { listQueryBase, looseBool, metadata, namingFields, uuid } from './common.js';

export const snapshotListQuery = z.strictObject({
  ...listQueryBase,
  volume_id: uuid.optional(),
  /** Admins only: include hidden snapshots (two or more dependants, kept until merged). */
  include_hidden: looseBool.optional(),
});

export const snapshotCreateBody = z.strictObject({
  snapshot: z.strictObject({
    volume_id: uuid,
    force: looseBool.nullable().optional(),
    ...namingFields,
    metadata: metadata.nullable().optional(),
  }),
});

export const snapshotUpdateBody = z.strictObject({
  snapshot: z.strictObject({
    ...namingFields,
  }).refine((v) => Object.keys(v).length > 0, 'nothing to update'),
});

export const operationListQuery = z.strictObject({
  ...listQueryBase,
  volume_id: uuid.optional(),
  state: z.enum(['running', 'succeeded', 'failed', 'abandoned']).optional(),
});
