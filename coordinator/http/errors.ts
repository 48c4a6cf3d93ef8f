/** One error handler: StorageError → its HTTP status and {code, message, ...details}. */
import type { NextFunction, Request, Response } from 'express';
import type { ZodError } from 'zod';
import { StorageError, toStorageError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';

export function invalidInput(err: ZodError): StorageError {
  const problems = err.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  return new StorageError('INVALID_INPUT', `invalid request: ${problems.map((p) => `${p.path || '(body)'}: ${p.message}`).join('; ')}`, {
    details: { problems },
  });
}

export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const body = err as { type?: string; status?: number };
    const e = body.type === 'entity.parse.failed' || body.type === 'entity.too.large'
      ? new StorageError('INVALID_INPUT', `unreadable request body (${body.type})`)
      : toStorageError(err);
    if (e.httpStatus >= 500) log.error({ err, path: req.path }, 'request failed');
    else log.info({ code: e.code, path: req.path }, e.message);
    res.status(e.httpStatus).json({ error: e.toJSON() });
  };
}
