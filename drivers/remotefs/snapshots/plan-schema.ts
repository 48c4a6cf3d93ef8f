/** Runtime check of a FileMergePlan read back from an intent (the info file is input like any other). */
import { z } from 'zod';
import { StorageError } from '../../../lib/core/errors.js';
import type { FileMergePlan } from './plan-delete.js';

const fmt = z.enum(['qcow2', 'raw']);
const planSchema = z.strictObject({
  snapshotId: z.string(),
  direction: z.enum(['commit', 'pull']),
  base: z.string(),
  top: z.string(),
  victim: z.string(),
  survivor: z.string(),
  newBacking: z.string().nullable(),
  newBackingFormat: fmt.nullable(),
  rebaseOnto: z.array(z.string()),
  survivorSize: z.number().int().nonnegative(),
  growBaseTo: z.number().int().positive().nullable(),
});

export function parseFileMergePlan(value: unknown): FileMergePlan {
  const r = planSchema.safeParse(value);
  if (!r.success) throw new StorageError('INFO_FILE_CORRUPT', `merge intent without a valid plan: ${r.error.message}`);
  return r.data;
}
