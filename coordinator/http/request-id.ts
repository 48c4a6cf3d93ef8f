/**
 * The storage service's request id on the coordinator: kept from X-OpenStack-Request-ID when
 * well formed (else a new one), answered, carried through the request's work (every log line
 * names it: core/logger.ts), and one access line per request.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../src/core/logger.js';
import { REQUEST_ID_HEADER, requestIdFrom, runInRequest, type RequestContext } from '../../src/core/request-context.js';

const CONTEXT = Symbol('requestContext');
type WithContext = Response & { [CONTEXT]?: RequestContext };

export function requestId(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    res.set(REQUEST_ID_HEADER, id);
    const ctx: RequestContext = { requestId: id, actor: () => undefined };
    (res as WithContext)[CONTEXT] = ctx;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      const durationMs = Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
      log.info({ requestId: id, access: { method: req.method, route: typeof route === 'string' ? route : 'unmatched', status: res.statusCode, durationMs } }, 'request');
    });
    runInRequest(ctx, next);
  };
}

/** After the body parser, which finishes outside the request's async context. */
export function reenterRequest(_req: Request, res: Response, next: NextFunction): void {
  const ctx = (res as WithContext)[CONTEXT];
  if (ctx) runInRequest(ctx, next);
  else next();
}
