/**
 * zod → StorageError with field-level messages. Ids in the path → INVALID_ID, a bad size →
 * SIZE_OUT_OF_BOUNDS, anything else → INVALID_INPUT; every issue is listed in details.fields.
 */
import type { z } from 'zod';
import { StorageError, type ErrorCode } from '../../../lib/core/errors.js';

export type Where = 'body' | 'query' | 'path';

export interface FieldProblem {
  path: string;
  message: string;
}

function codeFor(where: Where, fields: FieldProblem[]): ErrorCode {
  if (where === 'path') return 'INVALID_ID';
  if (fields.length > 0 && fields.every((f) => /(^|\.)(size|new_size)$/.test(f.path))) return 'SIZE_OUT_OF_BOUNDS';
  return 'INVALID_INPUT';
}

export function parse<S extends z.ZodType>(schema: S, value: unknown, where: Where): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const fields = r.error.issues.slice(0, 20).map((i) => ({
    path: [where, ...i.path.map(String)].join('.'),
    message: i.message,
  }));
  const summary = fields.map((f) => `${f.path}: ${f.message}`).join('; ');
  throw new StorageError(codeFor(where, fields), `invalid ${where}: ${summary}`.slice(0, 1000), { details: { fields } });
}
