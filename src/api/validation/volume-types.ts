/** Request schemas of the volume-type and quota routes. */
import { z } from 'zod';
import { description, freeKeyRecord, looseBool, text } from './common.js';

/** Extra specs as Cinder bounds them: keys and values up to 255 characters. */
const specKey = text(255).min(1).regex(/^[\w.:-]+$/, 'extra spec keys are letters, digits, _ . : -');
export const extraSpecs = freeKeyRecord(z.record(specKey, text(255))
  .refine((m) => Object.keys(m).length <= 64, 'at most 64 extra specs'));

export const typePath = z.strictObject({ project_id: z.string().optional(), type_id: text(255).min(1) });
export const specPath = z.strictObject({ project_id: z.string().optional(), type_id: text(255).min(1), key: specKey });

/** The cinder client sends is_public=None when not asked (all types an admin may see). */
export const typeListQuery = z.strictObject({
  is_public: z.enum(['true', 'false', 'True', 'False', 'None', 'none', '1', '0']).optional(),
  name: text(255).optional(),
});

export const typeCreateBody = z.strictObject({
  volume_type: z.strictObject({
    name: text(255).min(1).refine((s) => s.trim() !== '', 'must not be blank'),
    description: description.optional(),
    'os-volume-type-access:is_public': looseBool.optional(),
    is_public: looseBool.optional(),
    extra_specs: extraSpecs.optional(),
  }),
});

/**
 * `cinder type-update`: at least one of name, description, is_public (as Cinder asks). The client
 * sends null for what was not given: null leaves it unchanged, as in Cinder.
 */
export const typeUpdateBody = z.strictObject({
  volume_type: z.strictObject({
    name: text(255).min(1).refine((s) => s.trim() !== '', 'must not be blank').nullable().optional(),
    description: description.optional(),
    is_public: looseBool.nullable().optional(),
  }).refine((b) => (b.name ?? b.description ?? b.is_public ?? null) !== null, 'give the volume type name, description, is_public or a combination of them'),
});

/** A project id as the quota routes take it (the column's 64 characters, no path tricks). */
const projectId = z.string().regex(/^(?!\.+$)[A-Za-z0-9_.@-]{1,64}$/, 'must be a project id');

/** Cinder's volume-type actions: exactly one of them. */
export const typeActionBody = z.union([
  z.strictObject({ addProjectAccess: z.strictObject({ project: projectId }) }),
  z.strictObject({ removeProjectAccess: z.strictObject({ project: projectId }) }),
]);

export const specsBody = z.strictObject({ extra_specs: extraSpecs.refine((m) => Object.keys(m).length > 0, 'no extra spec given') });

/** PUT .../extra_specs/{key}: exactly that key. */
export const specBody = extraSpecs.refine((m) => Object.keys(m).length === 1, 'the body holds exactly the one key of the path');

const limit = z.number().int().min(-1, 'a limit is -1 (unlimited) or more').max(2_147_483_647);

export const quotaPath = z.strictObject({ project_id: z.string().optional(), tenant_id: z.string().regex(/^(?!\.+$)[A-Za-z0-9_.@-]{1,64}$/, 'must be a project id') });
export const quotaShowQuery = z.strictObject({ usage: looseBool.optional() });
/** skip_validation=false (what `cinder quota-update` sends): a limit below what the project uses is refused. */
export const quotaUpdateQuery = z.strictObject({ skip_validation: looseBool.optional() });

/** Only the resources enforced here; others (backups, groups, per-type keys) are refused, not ignored. */
export const quotaUpdateBody = z.strictObject({
  quota_set: z.strictObject({
    tenant_id: z.string().optional(),
    volumes: limit.optional(),
    snapshots: limit.optional(),
    gigabytes: limit.optional(),
  }),
});
