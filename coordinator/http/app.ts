/**
 * The daemon's one express app: request metrics for every route, /healthz and /readyz (open;
 * /readyz's checks with the service token), then the
 * mounted route groups (attach, disk operations) with their own auth and body limits, then auth,
 * JSON body and the snapshot / merge routes for everything else.
 */
import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Logger } from '../../lib/core/logger.js';
import type { Engine } from '../jobs/engine.js';
import type { Metrics } from '../metrics.js';
import type { UseCases } from '../use-cases.js';
import { StorageError } from '../../lib/core/errors.js';
import { readinessSummary } from '../../lib/core/readiness-summary.js';
import { requireServiceToken, tokenMatches } from './auth.js';
import { errorHandler } from './errors.js';
import { requestId } from './request-id.js';
import type { CoordinatorReadiness } from './readiness.js';
import { novaRoutes } from './routes-nova.js';
import { v1Routes } from './routes-v1.js';

export interface AppDeps {
  useCases: UseCases;
  engine: Engine;
  metrics: Metrics;
  log: Logger;
  serviceToken: string;
  /** Largest JSON body read (config coordinator.bodyLimit). */
  bodyLimit: string;
  /** GET /readyz (readiness.ts); absent: the route answers as /healthz does. */
  readiness?: () => Promise<CoordinatorReadiness>;
  /** Route groups served before the rest, in this order. */
  mounts?: readonly RouteMount[];
}

/** A route group: its path-scoped middleware (auth, body parser), its router; errors answered by the app's handler. */
export interface RouteMount {
  paths: string | string[];
  use: RequestHandler[];
  router: Router;
}

export function buildApp(d: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestId(d.log));
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const route = (req.route as { path?: string } | undefined)?.path;
      const labels = { method: req.method, route: typeof route === 'string' ? route : 'unmatched', status: String(res.statusCode) };
      d.metrics.inc('coordinator_http_requests_total', labels);
      d.metrics.observe('coordinator_http_request_ms', ms, { method: req.method });
    });
    next();
  });
  app.get('/healthz', (_req, res) => { res.json({ status: 'ok', jobsRunning: d.engine.activeCount }); });
  // Open to probes: the status and counts; each check and its reason (libvirt's socket, the
  // metadata API's address) only with the service token, which is checked when one is sent.
  app.get('/readyz', (req, res, next) => {
    const readiness = d.readiness ?? (() => Promise.resolve<CoordinatorReadiness>({ status: 'ready', reasons: [], checks: [] }));
    const full = req.get('x-auth-token') !== undefined;
    if (full && !tokenMatches(req.get('x-auth-token'), d.serviceToken)) {
      next(new StorageError('FORBIDDEN', 'only the storage service may call the coordinator'));
      return;
    }
    readiness().then((r) => { res.status(r.status === 'down' ? 503 : 200).json(full ? r : readinessSummary(r.status, r.checks)); }, next);
  });
  for (const m of d.mounts ?? []) {
    app.use(m.paths, ...m.use);
    app.use(m.router);
    app.use(m.paths, errorHandler(d.log));
  }
  app.use(requireServiceToken(d.serviceToken));
  app.get('/metrics', (_req, res) => { res.type('text/plain; version=0.0.4').send(d.metrics.render()); });
  app.use(express.json({ limit: d.bodyLimit }));
  app.use(novaRoutes(d.useCases));
  app.use(v1Routes(d.useCases, d.engine));
  app.use((req, res) => { res.status(404).json({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.path}` } }); });
  app.use(errorHandler(d.log));
  return app;
}
