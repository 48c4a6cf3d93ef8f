/**
 * Test harness: the same suites run on a SQLite temp file and on a real MariaDB database
 * (created per suite, dropped after). The service runs in-process on port 0.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { type Config } from '../../../lib/core/config.js';
import { parseServiceConfig } from '../../../src/api/service-config.js';
import { startService, type RunningService } from '../../../src/api/server.js';
import type { HostedDriver } from '../../../drivers/contract/hosted-driver.js';
import { FakeDriver } from '../../fixtures/fake-driver.js';
import { createTestDatabase } from '../../fixtures/mariadb.js';

export interface TestDb {
  config: Config['db'];
  cleanup(): Promise<void>;
}

export interface Backend {
  name: 'sqlite' | 'mariadb';
  create(): Promise<TestDb>;
}

export const BACKENDS: Backend[] = [
  {
    name: 'sqlite',
    create: async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'qcs-api-'));
      return {
        config: { dialect: 'sqlite', storage: path.join(dir, 'db.sqlite'), host: '', port: 0, database: '', username: '', password: '', pool: 1 },
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'mariadb',
    create: async () => {
      const db = await createTestDatabase();
      return { config: db.config, cleanup: db.drop };
    },
  },
];

/** Tokens of the "tokens" auth mode used by the suites. */
export const TOKENS = {
  admin: { userId: 'u-admin', projectId: 'p-admin', roles: ['admin', 'member'] as ('admin' | 'member' | 'service')[] },
  alice: { userId: 'u-alice', projectId: 'p-alice', roles: ['member'] as ('admin' | 'member' | 'service')[] },
  bob: { userId: 'u-bob', projectId: 'p-bob', roles: ['member'] as ('admin' | 'member' | 'service')[] },
  service: { userId: 'u-nova', projectId: 'p-service', roles: ['service'] as ('admin' | 'member' | 'service')[] },
  /** A compute host's coordinator: a service token bound to host c1 (it may register c1 only). */
  'service-c1': { userId: 'u-c1', projectId: 'p-service', roles: ['service'] as ('admin' | 'member' | 'service')[], host: 'c1' },
};

/** Register a compute host as admin (os-attach names hosts of the registry only). */
export async function registerHost(t: { http: ReturnType<typeof supertest> }, hostName: string, endpoint: string): Promise<void> {
  const r = await t.http.put(`/v3/os-compute-hosts/${hostName}`).set({ 'X-Auth-Token': 'admin' })
    .send({ compute_host: { coordinator_endpoint: endpoint, credential: `test-credential-of-${hostName}-0123456789` } });
  if (r.status !== 201 && r.status !== 200) throw new Error(`registering ${hostName}: ${r.status} ${r.text}`);
}

export function testConfig(db: Config['db'], overrides: { auth?: 'noauth' | 'tokens'; leaseTtlMs?: number; bodyLimit?: string; driver?: string; shares?: unknown[] } = {}): Readonly<Config> {
  return parseServiceConfig({
    log: { level: 'silent' },
    db,
    api: { host: '127.0.0.1', port: 0, auth: overrides.auth ?? 'tokens', tokens: TOKENS, bodyLimit: overrides.bodyLimit ?? '64kb' },
    storage: {
      leaseTtlMs: overrides.leaseTtlMs ?? 30_000, maxVolumeSizeGiB: 1024,
      ...(overrides.driver ? { driver: overrides.driver } : {}), ...(overrides.shares ? { shares: overrides.shares } : {}),
    },
  });
}

/**
 * The service's configuration with the real RemoteFS driver on one local share, all under `dir`
 * (share, mnt, leases); token auth with TOKENS unless `noauth` is asked.
 */
export interface RemotefsOptions {
  auth?: 'noauth' | 'tokens';
  /** storage.leaseTtlMs (the config's default when absent). */
  leaseTtlMs?: number;
  /** The service's periodic recovery sweep (0: none, the default here). */
  reaperIntervalMs?: number;
  /** Default per-project quotas (the config's: unlimited). */
  quotas?: Partial<Config['quotas']>;
}

export function remotefsLocalConfig(db: Config['db'], dir: string, options: RemotefsOptions = {}): Readonly<Config> {
  return parseServiceConfig({
    log: { level: 'silent' }, db,
    api: { host: '127.0.0.1', port: 0, ...(options.auth === 'noauth' ? { auth: 'noauth' } : { auth: 'tokens', tokens: TOKENS }) },
    storage: {
      driver: 'remotefs', shares: [{ type: 'local', address: path.join(dir, 'share') }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null,
      ...(options.leaseTtlMs === undefined ? {} : { leaseTtlMs: options.leaseTtlMs }),
    },
    ...(options.quotas ? { quotas: options.quotas } : {}),
  });
}

export interface RemotefsService {
  /** The scratch directory: the share is `<dir>/share`. */
  dir: string;
  svc: RunningService;
  http: ReturnType<typeof supertest>;
}

/**
 * Inside a describe: a fresh database of `backend`, a scratch directory (prefix `scratchPrefix`)
 * and the in-process service with the real RemoteFS driver on it (remotefsLocalConfig), started
 * before the suite (`use` receives it); after it, the service stopped and both removed.
 */
export function remotefsServiceHooks(backend: Backend, scratchPrefix: string, use: (s: RemotefsService) => void, options: RemotefsOptions = {}): void {
  let db: TestDb | undefined;
  let dir: string | undefined;
  let svc: RunningService | undefined;
  before(async () => {
    db = await backend.create();
    dir = await mkdtemp(path.join(tmpdir(), scratchPrefix));
    svc = await startService({ config: remotefsLocalConfig(db.config, dir, options), reaperIntervalMs: options.reaperIntervalMs ?? 0 });
    use({ dir, svc, http: supertest(svc.url) });
  });
  after(async () => {
    await svc?.stop();
    await db?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
}

/**
 * Waits over the API for the suites with the real driver: a volume's or snapshot's body, its
 * status reached, an operation ended, a snapshot taken and available. `http` is read at each call
 * (a restarted service has a new one).
 */
export function apiWaits(http: () => ReturnType<typeof supertest>) {
  const get = async (kind: 'volumes' | 'snapshots', id: string) => (await http().get(`/v3/${kind}/${id}`).set(auth('alice')).expect(200)).body[kind === 'volumes' ? 'volume' : 'snapshot'];
  const settled = (kind: 'volumes' | 'snapshots', id: string, want: string) => eventually(async () => ((await get(kind, id)).status === want ? true : undefined), 60_000);
  const operation = (id: string) => eventually(async () => {
    const r = await http().get(`/v3/operations/${id}`).set(auth('admin'));
    return r.status === 200 && r.body.operation.state !== 'running' ? r.body.operation as { state: string; error: string | null } : undefined;
  }, 60_000);
  const snapshot = async (vid: string) => {
    const r = await http().post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202);
    await settled('snapshots', r.body.snapshot.id, 'available');
    return r.body.snapshot.id as string;
  };
  return { get, settled, operation, snapshot };
}

export interface TestService {
  svc: RunningService;
  driver: FakeDriver;
  http: ReturnType<typeof supertest>;
  stop(): Promise<void>;
}

export async function startTestService(db: Config['db'], options: { auth?: 'noauth' | 'tokens'; leaseTtlMs?: number; bodyLimit?: string; driver?: HostedDriver } = {}): Promise<TestService> {
  const driver = (options.driver ?? new FakeDriver()) as FakeDriver;
  const svc = await startService({ config: testConfig(db, { auth: options.auth, leaseTtlMs: options.leaseTtlMs, bodyLimit: options.bodyLimit }), driver, reaperIntervalMs: 0 });
  return { svc, driver, http: supertest(svc.url), stop: () => svc.stop() };
}

/**
 * Inside a describe: the in-process service (startTestService) on a fresh database of `backend`,
 * started before the suite, stopped and its database removed after it. The object returned stands
 * for the started service (its fields read the one the hook started).
 */
export function testServiceHooks(backend: Backend, options: { auth?: 'noauth' | 'tokens' } = {}): TestService {
  let db: TestDb | undefined;
  let t: TestService | undefined;
  before(async () => {
    db = await backend.create();
    t = await startTestService(db.config, options);
  });
  after(async () => {
    await t?.stop();
    await db?.cleanup();
  });
  const started = (): TestService => {
    if (!t) throw new Error('the test service is not started (used outside its suite)');
    return t;
  };
  return {
    get svc() { return started().svc; },
    get driver() { return started().driver; },
    get http() { return started().http; },
    stop: () => started().stop(),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `check` returns a value (not undefined) or time runs out. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(20);
  }
}

export function auth(who: keyof typeof TOKENS): Record<string, string> {
  return { 'X-Auth-Token': who };
}
