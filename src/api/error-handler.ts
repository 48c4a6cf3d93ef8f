/**
 * The one place that turns errors into responses, in OpenStack's fault shape:
 *   {"itemNotFound": {"message": "...", "code": 404, "error_code": "VOLUME_NOT_FOUND", ...details}}
 * `code` is the HTTP status as OpenStack has it; `error_code` is our stable code, which callers
 * should match on. Body-parser and router errors (bad JSON, too large, bad charset, a path param
 * that does not decode) are the client's fault: 4xx with a stable code (core/http-server.ts).
 */
import type { NextFunction, Request, Response } from 'express';
import { StorageError, toStorageError } from '../../lib/core/errors.js';
import { fromHttpError } from '../../lib/core/http-server.js';
import type { Logger } from '../../lib/core/logger.js';
import { redactDeep, type Redact } from '../../lib/core/path-redaction.js';

const FAULT_NAMES: Record<number, string> = {
  400: 'badRequest', 401: 'unauthorized', 403: 'forbidden', 404: 'itemNotFound', 405: 'badMethod',
  408: 'requestTimeout', 409: 'conflictingRequest', 413: 'overLimit', 415: 'badMediaType', 416: 'rangeNotSatisfiable', 429: 'overLimit', 431: 'overLimit',
  501: 'notImplemented', 503: 'serviceUnavailable',
};

export function faultName(status: number): string {
  return FAULT_NAMES[status] ?? 'computeFault';
}

/**
 * An unexpected error (INTERNAL: anything that is not a StorageError, a database error among
 * them) answers with a fixed message and the request id, never its own text: that would carry
 * SQL, driver messages, file paths or a stack to the caller. The log has it under the same id.
 * Any other error's message and details pass `redact` (core/path-redaction.ts): whoever calls,
 * admins included, the answer names a file as on its share, never by this host's path; the log
 * line keeps the path for the operator.
 */
export function faultBody(err: StorageError, requestId?: string, redact: Redact = (t) => t): Record<string, unknown> {
  const status = err.httpStatus;
  if (err.code === 'INTERNAL') {
    const message = 'unexpected internal error; the service log has it under this request id';
    return { [faultName(status)]: { message, code: status, error_code: err.code, ...(requestId ? { request_id: requestId } : {}) } };
  }
  return { [faultName(status)]: { ...redactDeep(err.details, redact), message: redact(err.message), code: status, error_code: err.code } };
}

/**
 * `beforeAnswer`: the connection's last word before an error answer goes out; the answer waits
 * for the promise it returns (a refused upload's unread body drained first).
 */
export function errorHandler(log: Logger, redact: Redact, beforeAnswer?: (req: Request, res: Response) => Promise<void> | void) {
  return (raw: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const err = fromHttpError(raw) ?? toStorageError(raw);
    const status = err.httpStatus;
    const requestId = String(res.getHeader('x-openstack-request-id') ?? '');
    if (status >= 500) log.error({ err: raw, requestId, method: req.method, url: req.originalUrl }, 'request failed');
    // The answer names files as on their share: the operator finds the paths it left out here.
    else if (redact(err.message) !== err.message) log.warn({ code: err.code, requestId, method: req.method, url: req.originalUrl, details: err.details }, err.message);
    else log.debug({ code: err.code, requestId, method: req.method, url: req.originalUrl }, err.message);
    res.locals.errorCode = err.code; // for the access and audit lines (access-log.ts)
    if (res.headersSent) return;
    const answer = (): void => {
      if (!res.headersSent && !res.destroyed) res.status(status).json(faultBody(err, requestId, redact));
    };
    const pending = beforeAnswer?.(req, res);
    if (pending) void pending.then(answer, answer);
    else answer();
  };
}

export function notFoundHandler(req: Request, _res: Response, next: NextFunction): void {
  next(new StorageError('NOT_FOUND', `no route for ${req.method} ${req.path}`));
}
