/**
 * The audit trail of the HTTP API: the request id (kept from the client when well formed,
 * answered in X-OpenStack-Request-ID, carried through the request's work: core/request-context.ts),
 * one access line per request, and one audit line per state-changing request with its outcome
 * (a request that changed nothing, e.g. a coordinator's heartbeat, sets res.locals.stateUnchanged).
 * Asynchronous operations add their own audit line when they end (operation-audit.ts), under the
 * same request id.
 *
 * Access:  {"level":"info","time":"...","requestId":"req-…","access":{"method":"POST","route":"/v3/volumes",
 *           "status":202,"durationMs":12.3,"user":"u1","project":"p1","roles":["member"]},"msg":"request"}
 * Audit:   {"level":"info",...,"audit":{"action":"POST /v3/volumes","target":{},"outcome":"accepted",
 *           "status":202,"user":"u1","project":"p1","roles":["member"]},"msg":"audit"}
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../lib/core/logger.js';
import { REQUEST_ID_HEADER, requestIdFrom, runInRequest, type Actor, type RequestContext } from '../../lib/core/request-context.js';

const READ_ONLY = new Set(['GET', 'HEAD', 'OPTIONS']);

function actorOf(req: Request): Actor | undefined {
  const c = req.caller;
  return c ? { user: c.userId, project: c.projectId, roles: [...c.roles].sort() } : undefined;
}

/** The matched route pattern (ids stay out of the label and the log's route field), or "unmatched". */
export function routePattern(req: Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  return typeof route === 'string' ? route : 'unmatched';
}

function outcomeOf(status: number): 'succeeded' | 'accepted' | 'refused' | 'failed' {
  if (status === 202) return 'accepted';
  if (status < 400) return 'succeeded';
  return status < 500 ? 'refused' : 'failed';
}

/** First middleware: the request id, the access and audit lines at the end of the response. */
export function requestTracking(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    res.set(REQUEST_ID_HEADER, requestId);
    const ctx: RequestContext = { requestId, actor: () => actorOf(req) };
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const durationMs = Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
      const actor = ctx.actor() ?? {};
      const route = routePattern(req);
      const errorCode = typeof res.locals.errorCode === 'string' ? { errorCode: res.locals.errorCode } : {};
      log.info({ requestId, access: { method: req.method, route, status: res.statusCode, durationMs, ...actor, ...errorCode } }, 'request');
      // res.locals.stateUnchanged: a handler that found nothing to change (a coordinator's heartbeat).
      if (!READ_ONLY.has(req.method) && route !== 'unmatched' && res.locals.stateUnchanged !== true) {
        log.info({ requestId, audit: { action: `${req.method} ${route}`, target: { ...req.params }, outcome: outcomeOf(res.statusCode), status: res.statusCode, ...actor, ...errorCode } }, 'audit');
      }
    });
    runInRequest(ctx, next);
  };
}
