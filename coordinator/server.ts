/**
 * Start and stop the coordinator daemon. Start order: libvirt connections (the thaw connection
 * first of all), reconcile (thaw recorded-frozen guests, resume jobs), then listen. Stop closes
 * the listener, ends job loops (jobs stay persisted) and closes libvirt.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Config } from '../lib/core/config.js';
import { startHttpServer } from '../lib/core/http-server.js';
import { KeyedMutex } from '../lib/core/keyed-mutex.js';
import { logger, type Logger } from '../lib/core/logger.js';
import { readSecret } from '../lib/core/secrets.js';
import { reloadOnSighup } from '../lib/core/tls.js';
import { hostname } from 'node:os';
import { attachWiring } from './attach/index.js';
import { startRegistration, type Registration } from './attach/registration.js';
import { systemClock, type Clock } from './clock.js';
import { diskOpsMount } from './disk-ops/routes.js';
import { checkpointMount, checkpointWiring } from './checkpoint/wiring.js';
import { buildApp } from './http/app.js';
import { errorJson } from './http/errors.js';
import { resolveInboundToken } from './http/inbound-token.js';
import { inspectOverlay } from './inspect.js';
import { verifyLiveChain, type VerifyLiveChain } from './snapshot/preflight.js';
import { Engine } from './jobs/engine.js';
import type { Job } from './jobs/job.js';
import { LibvirtAdapter } from './libvirt/adapter.js';
import type { LibvirtPort } from './libvirt/port.js';
import type { MetadataApi } from './metadata/api.js';
import { HttpMetadataClient } from './metadata/http-client.js';
import { Metrics } from './metrics.js';
import type { InspectOverlay } from './plans/create-plan.js';
import { JobStore } from './state/job-store.js';
import { UseCases } from './use-cases.js';
import { assertPortFree } from '../lib/core/port-check.js';
import { coordinatorReadiness } from './http/readiness.js';

export interface CoordinatorOverrides {
  port?: LibvirtPort;
  metadata?: MetadataApi;
  clock?: Clock;
  inspect?: InspectOverlay;
  /** Fake domains of unit tests have no files to check; production always uses verifyLiveChain. */
  verifyChain?: VerifyLiveChain;
  log?: Logger;
}

export interface RunningCoordinator {
  url: string;
  /** This host's name in the registry of compute hosts. */
  hostName: string;
  /** Whether the first self-registration succeeded (false when selfRegister is off). */
  registered: Promise<boolean>;
  engine: Engine;
  metrics: Metrics;
  stop(): Promise<void>;
}

function describeMetrics(m: Metrics, engine: Engine): void {
  m.describe('coordinator_jobs_started_total', 'Jobs started or resumed, by kind.');
  m.describe('coordinator_jobs_finished_total', 'Jobs ended, by kind and final state.');
  m.describe('coordinator_freeze_ms', 'Guest freeze window measured by the coordinator (freeze call to thaw answer).');
  m.gauge('coordinator_jobs_running', () => engine.activeCount);
  m.gauge('coordinator_jobs_known', () => engine.list().length);
  m.gauge('coordinator_jobs_failed', () => engine.list().filter((j: Job) => j.state === 'failed').length);
}

/** coordinator.serviceTokenFile, else QCOWSHARE_COORDINATOR_SERVICE_TOKEN, else coordinator.serviceToken. */
export function outboundServiceToken(c: Config['coordinator']): string {
  return readSecret({ name: 'coordinator.serviceToken', file: c.serviceTokenFile, envVar: 'QCOWSHARE_COORDINATOR_SERVICE_TOKEN', inline: c.serviceToken });
}

export async function startCoordinator(config: Readonly<Config>, o: CoordinatorOverrides = {}): Promise<RunningCoordinator> {
  const c = config.coordinator;
  const log = o.log ?? logger('coordinator');
  // Before libvirt, the job store and the resumption of jobs: a taken port changes nothing.
  await assertPortFree(c.host, c.port, { key: 'coordinator.port' });
  const adapter = o.port ? undefined : new LibvirtAdapter({ uri: c.libvirtUri });
  const port = o.port ?? (adapter as LibvirtAdapter);
  await adapter?.warmUp();
  // The outbound token from its file or the environment when set (a secret kept out of the main file).
  const serviceToken = outboundServiceToken(c);
  const caFile = c.metadataCaFile ? { caFile: c.metadataCaFile } : {};
  const metadata = o.metadata ?? new HttpMetadataClient({ baseUrl: c.metadataApi, token: serviceToken, timeoutMs: c.metadataTimeoutMs, ...caFile });
  const metrics = new Metrics();
  const clock = o.clock ?? systemClock;
  // Shared by snapshots (the engine) and attaches: both read a domain's disks, then change them.
  const domainLocks = new KeyedMutex();
  const engine = new Engine({
    port, clock, log, metadata, metrics, store: new JobStore(c.stateDir), domainLocks,
    settings: {
      pollIntervalMs: c.pollIntervalMs, blockJobTimeoutMs: c.blockJobTimeoutMs, pivotSettleTimeoutMs: c.pivotSettleTimeoutMs,
      freezeTimeoutMs: c.freezeTimeoutMs, blockJobBandwidthMiBps: c.blockJobBandwidthMiBps,
    },
  });
  describeMetrics(metrics, engine);
  await engine.start();
  const useCases = new UseCases({ engine, metadata, log, port, clock, inspect: o.inspect ?? inspectOverlay, verifyChain: o.verifyChain ?? verifyLiveChain, defaultQuiesce: c.quiesce });
  let url = '';
  // One credential per direction: `inbound` is what the storage service presents here (it is not
  // a token of the storage API); c.serviceToken is only ever sent to the storage API.
  const inbound = await resolveInboundToken(c);
  const hostName = c.hostName === '' ? hostname() : c.hostName;
  const attach = attachWiring(config, log, { hostName, inboundToken: inbound, serviceToken }, domainLocks);
  const readiness = () => coordinatorReadiness({ libvirt: port, metadataApi: c.metadataApi, ...(c.metadataCaFile ? { metadataCaFile: c.metadataCaFile } : {}), timeoutMs: c.metadataTimeoutMs });
  const checkpoints = await checkpointWiring(c, log, { snapshots: metadata, inspect: o.inspect ?? inspectOverlay, hostName, mountBase: config.storage.mountBase });
  // One app: the attach, disk-operation (and checkpoint) groups first, all behind the request metrics.
  const app = buildApp({
    useCases, engine, metrics, log, serviceToken: inbound, bodyLimit: c.bodyLimit, readiness,
    mounts: [attach.mount, diskOpsMount(attach.deps.devices, inbound, attach.deps.pendingUnplugs), ...(checkpoints ? [checkpointMount(checkpoints.deps, domainLocks, inbound)] : [])],
  });
  const server: Server = await startHttpServer(app, { host: c.host, port: c.port, limits: c, bodyLimit: c.bodyLimit, errorBody: (e) => ({ error: errorJson(e) }), tls: c.tls });
  const stopReloading = reloadOnSighup(server as HttpsServer, c.tls, log);
  const { port: bound } = server.address() as AddressInfo;
  log.info({ port: bound, stateDir: c.stateDir }, 'coordinator listening');
  url = c.advertisedEndpoint === '' ? `${c.tls ? 'https' : 'http'}://${c.host.includes(':') ? `[${c.host}]` : c.host}:${bound}` : c.advertisedEndpoint;
  let registration: Registration | undefined;
  if (c.selfRegister) {
    registration = startRegistration({
      metadataApi: c.metadataApi, serviceToken, hostName, endpoint: url, credential: inbound, ...caFile,
      timeoutMs: c.metadataTimeoutMs, retryMs: 5000, heartbeatMs: c.heartbeatMs, log,
    });
    await registration.first;
  }
  return {
    url,
    hostName,
    registered: registration?.first ?? Promise.resolve(false),
    engine,
    metrics,
    stop: async () => {
      stopReloading();
      registration?.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await engine.stop();
      await attach.close();
      await checkpoints?.close();
      if (!o.port) await port.close();
    },
  };
}
