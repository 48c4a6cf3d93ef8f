/**
 * The storage service's request id on the coordinator: kept from X-OpenStack-Request-ID when
 * well formed (else a new one), answered, carried through the request's work (every log line
 * names it: core/logger.ts), one access line per request and an audit line per state-changing one.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../lib/core/logger.js';
import { REQUEST_ID_HEADER, requestIdFrom, runInRequest, type RequestContext } from '../../lib/core/request-context.js';

const READ_ONLY = new Set(['GET', 'HEAD', 'OPTIONS']);

export function requestId(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    res.set(REQUEST_ID_HEADER, id);
    const ctx: RequestContext = { requestId: id, actor: () => undefined };
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      const durationMs = Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
      const pattern = typeof route === 'string' ? route : 'unmatched';
      log.info({ requestId: id, access: { method: req.method, route: pattern, status: res.statusCode, durationMs } }, 'request');
      // The caller is the storage service (one credential): the audit line names the action and its outcome.
      if (!READ_ONLY.has(req.method) && pattern !== 'unmatched') {
        const outcome = res.statusCode === 202 ? 'accepted' : res.statusCode < 400 ? 'succeeded' : res.statusCode < 500 ? 'refused' : 'failed';
        log.info({ requestId: id, audit: { action: `${req.method} ${pattern}`, target: { ...req.params }, outcome, status: res.statusCode } }, 'audit');
      }
    });
    runInRequest(ctx, next);
  };
}
