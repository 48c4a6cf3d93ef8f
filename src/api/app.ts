/**
 * The express app: request id and access log → metrics → headers → JSON body (size-limited) → routes (auth on every /v3
 * route) → 404 → the one error handler. Routes come from one table (routes/*.ts) that also
 * produces /openapi.json.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { requestTracking } from './access-log.js';
import { authenticate, authenticateIfPresented, authorizeRoute } from './auth.js';
import type { ServiceDeps } from './context.js';
import { consoleRouter } from '../console/router.js';
import { errorHandler, notFoundHandler } from './error-handler.js';
import { hostPathRedactor } from '../../lib/core/host-path-roots.js';
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
import { messageRoutes } from './routes/messages.js';
import { metadataRoutes } from './routes/metadata.js';
import { schedulerStatsRoutes } from './routes/scheduler-stats.js';
import { volumeTypeRoutes } from './routes/volume-types.js';
import { quotaRoutes } from './routes/quotas.js';
import { serviceRoutes } from './routes/services.js';
import { snapshotActionRoutes } from './routes/snapshot-actions.js';
import { snapshotDeletePreviewRoutes } from './routes/snapshot-delete-preview.js';
import { snapshotRoutes } from './routes/snapshots.js';
import { versionRoutes } from './routes/versions.js';
import { assertMicroversion, negotiateMicroversion } from './microversions/negotiate.js';
import { routeSince } from './microversions/version.js';
import { refuseUnsupportedResources } from './microversions/unsupported-resources.js';
import { volumeActionRoutes } from './routes/volume-actions.js';
import { volumeRoutes } from './routes/volumes.js';
import { volumeSummaryRoutes } from './routes/volume-summary.js';
import { refusedUploadSettler, volumeTransferRoutes } from './routes/volume-transfer.js';
import { instanceTransferRoutes } from './routes/instance-transfer.js';
import { instanceActionRoutes } from './routes/instance-actions.js';

export function routeTable(deps: ServiceDeps): RouteDef[] {
  const routes: RouteDef[] = [
    ...versionRoutes, ...healthRoutes(deps), ...volumeSummaryRoutes(deps), ...volumeRoutes(deps), ...volumeActionRoutes(deps),
    ...snapshotRoutes(deps), ...snapshotActionRoutes(deps), ...operationRoutes(deps),
    ...attachmentRoutes(deps),
    ...manageRoutes(deps),
    ...computeHostRoutes(deps),
    ...checkRoutes(deps),
    ...volumeTransferRoutes(deps),
    ...instanceTransferRoutes(deps),
    ...instanceActionRoutes(deps),
    ...checkpointRoutes(deps),
    ...metadataRoutes(deps),
    ...availabilityZoneRoutes,
    ...schedulerStatsRoutes(deps),
    ...serviceRoutes(deps),
    ...messageRoutes(deps),
    ...snapshotDeletePreviewRoutes(deps),
    ...volumeTypeRoutes(deps),
    ...quotaRoutes(deps),
  ];
  const doc = openApiDocument([...routes, openApiRoute({})]);
  return [...routes, openApiRoute(doc)];
}

function openApiRoute(doc: Record<string, unknown>): RouteDef {
  return { method: 'get', path: '/openapi.json', versioned: false, status: 200, policy: 'qcowshare:public', summary: 'This OpenAPI document', handler: (_req, res) => { res.json(doc); } };
}

/** A route newer than the request's microversion is refused (microversions/history.ts). */
function microversionGate(r: RouteDef): (req: Request, res: Response, next: NextFunction) => void {
  const since = routeSince(`${r.method.toUpperCase()} ${r.path}`);
  return (_req, res, next) => {
    assertMicroversion(res, since, `${r.method.toUpperCase()} ${r.path}`);
    next();
  };
}

export function createApp(deps: ServiceDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestTracking(deps.log));
  app.use(deps.metrics.middleware());
  app.use(negotiateMicroversion);
  app.use(express.json({ limit: deps.config.api.bodyLimit, strict: false }));
  const auth = authenticate(deps.config.api);
  // The Keystone authenticator (its token cache), for tests and diagnostics; undefined in other modes.
  app.locals.keystone = auth.keystone;
  // Project-less paths first: /v3/volumes must not be read as project "volumes".
  const table = routeTable(deps);
  // The web console: HTML pages behind the same authentication and policy (src/console).
  if (deps.config.api.console) app.use('/console', consoleRouter(deps, auth));
  for (const variant of [0, 1]) {
    for (const r of table) {
      const path = expressPaths(r)[variant];
      if (path === undefined) continue;
      const handlers = r.versioned ? [auth, authorizeRoute(r.policy), microversionGate(r), r.handler] : r.identifiesCaller ? [authenticateIfPresented(auth), r.handler] : [r.handler];
      app[r.method](path, ...handlers);
    }
  }
  app.use(refuseUnsupportedResources(auth));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.log, hostPathRedactor(deps.config.storage), refusedUploadSettler(deps.config.api.refusedUploadDrain)));
  return app;
}
