/**
 * The express app: request id and access log → metrics → headers → JSON body (size-limited) → routes (auth on every /v3
 * route) → 404 → the one error handler. Routes come from one table (routes/*.ts) that also
 * produces /openapi.json.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { requestTracking } from './access-log.js';
import { authenticate, authorizeRoute } from './auth.js';
import type { ServiceDeps } from './context.js';
import { errorHandler, notFoundHandler } from './error-handler.js';
import { openApiDocument } from './openapi.js';
import { attachmentRoutes } from './routes/attachments.js';
import { checkpointRoutes } from './routes/checkpoints.js';
import { availabilityZoneRoutes } from './routes/availability-zones.js';
import { computeHostRoutes } from './routes/compute-hosts.js';
import { checkRoutes } from './routes/check.js';
import { healthRoutes } from './routes/health.js';
import { operationRoutes } from './routes/operations.js';
import { expressPaths, type RouteDef } from './routes/route.js';
import { manageRoutes } from './routes/manage.js';
import { metadataRoutes } from './routes/metadata.js';
import { schedulerStatsRoutes } from './routes/scheduler-stats.js';
import { serviceRoutes } from './routes/services.js';
import { snapshotActionRoutes } from './routes/snapshot-actions.js';
import { snapshotRoutes } from './routes/snapshots.js';
import { MAX_VERSION, versionRoutes } from './routes/versions.js';
import { volumeActionRoutes } from './routes/volume-actions.js';
import { volumeRoutes } from './routes/volumes.js';
import { volumeSummaryRoutes } from './routes/volume-summary.js';
import { volumeTransferRoutes } from './routes/volume-transfer.js';

export function routeTable(deps: ServiceDeps): RouteDef[] {
  const routes: RouteDef[] = [
    ...versionRoutes, ...healthRoutes(deps), ...volumeSummaryRoutes(deps), ...volumeRoutes(deps), ...volumeActionRoutes(deps),
    ...snapshotRoutes(deps), ...snapshotActionRoutes(deps), ...operationRoutes(deps),
    ...attachmentRoutes(deps),
    ...manageRoutes(deps),
    ...computeHostRoutes(deps),
    ...checkRoutes(deps),
    ...volumeTransferRoutes(deps),
    ...checkpointRoutes(deps),
    ...metadataRoutes(deps),
    ...availabilityZoneRoutes,
    ...schedulerStatsRoutes(deps),
    ...serviceRoutes(deps),
  ];
  const doc = openApiDocument([...routes, openApiRoute({})]);
  return [...routes, openApiRoute(doc)];
}

function openApiRoute(doc: Record<string, unknown>): RouteDef {
  return { method: 'get', path: '/openapi.json', versioned: false, status: 200, policy: 'qcowshare:public', summary: 'This OpenAPI document', handler: (_req, res) => { res.json(doc); } };
}

function standardHeaders(req: Request, res: Response, next: NextFunction): void {
  res.set('OpenStack-API-Version', `volume ${MAX_VERSION}`);
  res.vary('OpenStack-API-Version');
  next();
}

export function createApp(deps: ServiceDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestTracking(deps.log));
  app.use(deps.metrics.middleware());
  app.use(standardHeaders);
  app.use(express.json({ limit: deps.config.api.bodyLimit, strict: false }));
  const auth = authenticate(deps.config.api);
  // The Keystone authenticator (its token cache), for tests and diagnostics; undefined in other modes.
  app.locals.keystone = auth.keystone;
  // Project-less paths first: /v3/volumes must not be read as project "volumes".
  const table = routeTable(deps);
  for (const variant of [0, 1]) {
    for (const r of table) {
      const path = expressPaths(r)[variant];
      if (path === undefined) continue;
      const handlers = r.versioned ? [auth, authorizeRoute(r.policy), r.handler] : [r.handler];
      app[r.method](path, ...handlers);
    }
  }
  app.use(notFoundHandler);
  app.use(errorHandler(deps.log));
  return app;
}
