/** The shape of a FileMergePlan as a merge intent records it (intents.ts; the info file is input like any other). */
import { z } from 'zod';
import type { FileMergePlan } from './plan-delete.js';

const fmt = z.enum(['qcow2', 'raw']);
export const fileMergePlanSchema = z.strictObject({
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

// The recorded shape and the planner's type stay one: a field added to one and not the other fails the type check.
const _sameShape: (p: z.infer<typeof fileMergePlanSchema>) => FileMergePlan = (p) => p;
void _sameShape;
