/**
 * One error handler: StorageError → its HTTP status and {code, message, ...details}. Client
 * mistakes that express raises (bad JSON, too large, an undecodable path param) are 4xx with a
 * stable code (core/http-server.ts); an unexpected error answers a fixed message, never its own
 * text (SQL, paths, a stack), which stays in the log.
 */
import type { NextFunction, Request, Response } from 'express';
import type { ZodError } from 'zod';
import { StorageError, toStorageError } from '../../lib/core/errors.js';
import { fromHttpError } from '../../lib/core/http-server.js';
import type { Logger } from '../../lib/core/logger.js';

export function invalidInput(err: ZodError): StorageError {
  const problems = err.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  return new StorageError('INVALID_INPUT', `invalid request: ${problems.map((p) => `${p.path || '(body)'}: ${p.message}`).join('; ')}`, {
    details: { problems },
  });
}

export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const e = fromHttpError(err) ?? toStorageError(err);
    if (e.httpStatus >= 500) log.error({ err, path: req.path }, 'request failed');
    else log.info({ code: e.code, path: req.path }, e.message);
    if (res.headersSent) return;
    res.status(e.httpStatus).json({ error: errorJson(e) });
  };
}

/** The body of a coordinator error reply. */
export function errorJson(e: StorageError): Record<string, unknown> {
  if (e.code === 'INTERNAL') return { code: e.code, message: 'unexpected internal error; the coordinator log has it' };
  return e.toJSON();
}
