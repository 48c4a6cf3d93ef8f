/**
 * Start and stop the storage service: open and migrate the database, load and set up the driver
 * (through the registry), reconcile what a crash left (before listening), listen (port 0 in tests), run the reaper of abandoned snapshot-metadata
 * operations, the settling of attached volumes' interrupted operations (usecases/interrupted-attached.ts) and the repair of operations whose outcome only the info file holds (usecases/interrupted-outcomes.ts). stop() closes the listener, waits for background operations, closes the database.
 */
import { coordinatorTls } from './coordinator-tls.js';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Config } from '../../lib/core/config.js';
import { logger as rootLogger, type Logger } from '../../lib/core/logger.js';
import { openRepositories, type Repositories } from '../db/index.js';
import { loadDriver } from '../../drivers/contract/registry.js';
import { IDENTITY_KEY_BYTES } from '../../drivers/contract/volume-driver.js';
import type { Server as HttpsServer } from 'node:https';
import { startHttpServer } from '../../lib/core/http-server.js';
import { reloadOnSighup } from '../../lib/core/tls.js';
import { assertPortFree } from '../../lib/core/port-check.js';
import { createApp } from './app.js';
import { RECOVERY_PASSES, runRecovery } from './recovery.js';
import { faultBody } from './error-handler.js';
import { hostPathRedactor } from '../../lib/core/host-path-roots.js';
import type { ServiceDeps } from './context.js';
import type { HostedDriver } from '../../drivers/contract/hosted-driver.js';
import { Metrics } from './metrics.js';
import { BackgroundTasks } from './tasks.js';
import { coordinatorOf } from './usecases/compute-hosts.js';
import { isArchiveUpload } from './routes/volume-transfer.js';
import { isConsoleForm } from '../console/router.js';

export interface ServiceOptions {
  config: Readonly<Config>;
  /** Use this driver instead of loading storage.driver (tests). */
  driver?: HostedDriver;
  /** Use these repositories (not closed by stop()). */
  repos?: Repositories;
  log?: Logger;
  /** Reaper period; default half the lease TTL; 0 disables (tests call reapAbandoned). */
  reaperIntervalMs?: number;
  /** Run the driver's reconcile before listening; default: only for a driver loaded from config. */
  reconcileOnStart?: boolean;
}

export interface RunningService {
  url: string;
  port: number;
  app: Express;
  deps: ServiceDeps;
  stop(): Promise<void>;
}

/** The service_secrets row of the key that seals frozen files' identities. */
export const IDENTITY_KEY_SECRET = 'file-identity-key';

export async function buildDeps(options: ServiceOptions): Promise<ServiceDeps> {
  const log = options.log ?? rootLogger('api');
  if (!options.log) log.level = options.config.log.level;
  const repos = options.repos ?? await openRepositories(options.config.db, log);
  const holderId = `svc-${randomUUID()}`;
  const driverLog = rootLogger('driver');
  if (!options.log) driverLog.level = options.config.log.level;
  // The driver calls only the coordinators of registered hosts, with the credential stored for each.
  // An https endpoint's certificate must chain to api.coordinatorCaFile (when set) and name its host.
  const tls = coordinatorTls(options.config.api);
  const coordinators = { lookup: async (hostName: string) => ({ ...(await coordinatorOf({ repos }, hostName)), ...(tls ? { tls } : {}) }) };
  // Seals frozen files' identities in the info files on the shares: a key only the database holds.
  const identityKey = options.driver ? undefined : await repos.secrets.getOrCreate(IDENTITY_KEY_SECRET, IDENTITY_KEY_BYTES);
  const driver = options.driver ?? await loadDriver({ config: options.config, leases: repos.leases, logger: driverLog, holderId, coordinators, identityKey });
  if (!options.driver) await driver.doSetup();
  return { config: options.config, repos, driver, tasks: new BackgroundTasks(log), metrics: new Metrics(), log, holderId };
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  // Before the database, the driver's set-up and any reconcile: a taken port changes nothing.
  // (In a worker the probe goes through the supervisor's shared handle, as the listen will.)
  await assertPortFree(options.config.api.host, options.config.api.port, { key: 'api.port' });
  const deps = await buildDeps(options);
  const reconcile = options.reconcileOnStart ?? !options.driver;
  if (reconcile) await runRecovery(deps, 'start');
  const app = createApp(deps);
  const { host: bindHost, port: bindPort } = options.config.api;
  const tls = options.config.api.tls;
  const server = await startHttpServer(app, { host: bindHost, port: bindPort, limits: options.config.api, bodyLimit: options.config.api.bodyLimit, rawBody: isArchiveUpload, formBody: isConsoleForm, errorBody: (e) => faultBody(e, undefined, hostPathRedactor(options.config.storage)), tls });
  const stopReloading = reloadOnSighup(server as HttpsServer, tls, deps.log);
  const { port } = server.address() as AddressInfo;
  const period = options.reaperIntervalMs ?? Math.floor(options.config.storage.leaseTtlMs / 2);
  deps.tasks.run('recovery once listening', () => runRecovery(deps, 'listening', RECOVERY_PASSES.filter((p) => reconcile || p.withoutReconcile === true)));
  const sweep = () => runRecovery(deps, 'sweep');
  let sweeping = false; // one sweep at a time: a slow coordinator must not pile them up
  const reaper = period > 0 ? setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    void sweep().finally(() => { sweeping = false; });
  }, period) : undefined;
  reaper?.unref();
  const host = options.config.api.host.includes(':') ? `[${options.config.api.host}]` : options.config.api.host;
  deps.log.info({ port, driver: deps.driver.name, db: options.config.db.dialect }, 'storage service listening');
  if (options.config.api.auth === 'tokens') deps.log.warn('api.auth "tokens" (a static token map) is for tests only: use "keystone" in production');
  return {
    url: `${tls ? 'https' : 'http'}://${host}:${port}`, port, app, deps,
    stop: async () => {
      stopReloading();
      if (reaper) clearInterval(reaper);
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
      await deps.tasks.drain();
      if (!options.repos) await deps.repos.db.close();
    },
  };
}
