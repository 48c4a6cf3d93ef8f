/**
 * The one place that turns errors into responses, in OpenStack's fault shape:
 *   {"itemNotFound": {"message": "...", "code": 404, "error_code": "VOLUME_NOT_FOUND", ...details}}
 * `code` is the HTTP status as OpenStack has it; `error_code` is our stable code, which callers
 * should match on. Body-parser errors (bad JSON, too large, bad charset) are the client's fault.
 */
import type { NextFunction, Request, Response } from 'express';
import { StorageError, toStorageError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

const FAULT_NAMES: Record<number, string> = {
  400: 'badRequest', 401: 'unauthorized', 403: 'forbidden', 404: 'itemNotFound', 405: 'badMethod',
  409: 'conflictingRequest', 413: 'overLimit', 415: 'badMediaType', 429: 'overLimit',
  501: 'notImplemented', 503: 'serviceUnavailable',
};

export function faultName(status: number): string {
  return FAULT_NAMES[status] ?? 'computeFault';
}

interface HttpParserError {
  type?: string;
  status?: number;
  expose?: boolean;
  message?: string;
}

/** body-parser errors carry `type` (entity.parse.failed, entity.too.large, ...) and a 4xx status. */
function fromParserError(err: HttpParserError): StorageError | null {
  if (typeof err?.type !== 'string' || typeof err.status !== 'number' || err.status >= 500) return null;
  const code: ErrorCode = err.type === 'entity.too.large' ? 'PAYLOAD_TOO_LARGE' : 'INVALID_INPUT';
  const message = err.type === 'entity.parse.failed' ? 'request body is not valid JSON' : (err.message ?? 'bad request body');
  return new StorageError(code, message, { details: { reason: err.type } });
}

export function faultBody(err: StorageError): Record<string, unknown> {
  const status = err.httpStatus;
  // Internal errors keep their details in the log, not in the response.
  const details = status >= 500 && err.code === 'INTERNAL' ? {} : err.details;
  return { [faultName(status)]: { ...details, message: err.message, code: status, error_code: err.code } };
}

export function errorHandler(log: Logger) {
  return (raw: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const err = fromParserError(raw as HttpParserError) ?? toStorageError(raw);
    const status = err.httpStatus;
    if (status >= 500) log.error({ err: raw, method: req.method, url: req.originalUrl }, 'request failed');
    else log.debug({ code: err.code, method: req.method, url: req.originalUrl }, err.message);
    if (res.headersSent) return;
    res.status(status).json(faultBody(err));
  };
}

export function notFoundHandler(req: Request, _res: Response, next: NextFunction): void {
  next(new StorageError('NOT_FOUND', `no route for ${req.method} ${req.path}`));
}
