import { z } from 'zod';
import { description, listQueryBase, looseBool, metadata, name, uuid } from './common.js';

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
    name: name.optional(),
    description: description.optional(),
    display_name: name.optional(),
    display_description: description.optional(),
    metadata: metadata.nullable().optional(),
  }),
});

export const snapshotUpdateBody = z.strictObject({
  snapshot: z.strictObject({
    name: name.optional(),
    description: description.optional(),
    display_name: name.optional(),
    display_description: description.optional(),
  }).refine((v) => Object.keys(v).length > 0, 'nothing to update'),
});

export const operationListQuery = z.strictObject({
  ...listQueryBase,
  volume_id: uuid.optional(),
  state: z.enum(['running', 'succeeded', 'failed', 'abandoned']).optional(),
});
