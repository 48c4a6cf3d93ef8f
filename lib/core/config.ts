/**
 * Configuration: one JSON file per deployment (config/*.json), environment overrides, validated
 * once at start against one schema that rejects unknown keys, then frozen. Nothing else in the
 * product reads process.env for settings.
 *
 * File:      QCOWSHARE_CONFIG=<path>   (default: config/embedded.json)
 * Overrides: QCOWSHARE__<section>__<key>=<value>   e.g. QCOWSHARE__api__port=9000
 *            (value parsed as JSON when it parses, else taken as a string)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { StorageError } from './errors.js';

const shareSchema = z.strictObject({
  /** local: a directory; glusterfs: "host:/volume"; nfs: "host:/export". */
  type: z.enum(['local', 'glusterfs', 'nfs']),
  /** Where the share is: a directory (local), "host:/volume" (glusterfs), "host:/export" (nfs). Its mount point is derived from this exact string. */
  address: z.string().min(1),
  /** Extra mount options (-o). */
  mountOptions: z.array(z.string()).default([]),
  /** GlusterFS: backup volfile servers. */
  backupVolfileServers: z.array(z.string()).default([]),
});

/**
 * The storage section's keys every part reads. A driver's own options (drivers/remotefs/options.ts)
 * are declared beside the driver and composed in by composeConfigSchema.
 */
const storageFields = {
  /** The volume driver (drivers/contract/registry.ts); remotefs keeps volumes as qcow2/raw files on the shares. */
  driver: z.string().default('remotefs'),
  /** The shares volumes are placed on (the one with the most free space that fits, as Cinder's capacity filter decides). */
  shares: z.array(shareSchema).min(1).default([{ type: 'local', address: 'var/shares/local0', mountOptions: [], backupVolfileServers: [] }]),
  /** Where remote shares are mounted: <mountBase>/<md5 hex of the share address> (as Cinder and Nova name them: core/share-hash.ts). */
  mountBase: z.string().default('var/mnt'),
  /** Default volume format. */
  volumeFormat: z.enum(['qcow2', 'raw']).default('qcow2'),
  /** Largest volume accepted, in GiB. */
  maxVolumeSizeGiB: z.number().int().min(1).max(65536).default(16384),
  /** Lease time to live for per-volume operations. */
  leaseTtlMs: z.number().int().min(1000).default(30_000),
  /** Directory for the embedded lease files. */
  leaseDir: z.string().default('var/leases'),
  /**
   * A checkpoint left creating / reverting / deleting by a crash goes to error after this long
   * without news from its host (unreachable, or a job with no progress); retried until then.
   */
  checkpointSettleBoundMs: z.number().int().min(1000).default(15 * 60_000),
  /**
   * An attachment left `attaching` this long (its attach's coordinator died or never answered) is
   * settled with its host: completed when the guest has the disk, released when it has not. An
   * attach that still runs on its host is never settled; the wait also covers a compute service
   * that attaches without the coordinator.
   */
  attachSettleGraceMs: z.number().int().min(0).default(60_000),
  /** An attachment whose host has not answered this long after it was left `attaching` is reported ATTACH_UNSETTLED for an operator (asked again every pass). */
  attachSettleBoundMs: z.number().int().min(1000).default(15 * 60_000),
  /**
   * An unplug pending in a guest this long (the disk gone from its definition, still in its live
   * XML: the guest never let go) is reported UNPLUG_PENDING by the consistency check. Well past
   * the coordinator's own 60 s wait for the guest, so a detach that still runs is not reported.
   */
  unplugPendingBoundMs: z.number().int().min(0).default(5 * 60_000),
};

const dbSchema = z.strictObject({
  /** sqlite (embedded, one process) or mysql/mariadb (production; needed for api.workers > 1 and several service hosts). */
  dialect: z.enum(['sqlite', 'mysql', 'mariadb']).default('sqlite'),
  /** SQLite: the database file. */
  storage: z.string().default('var/qcowshare.sqlite'),
  /** MySQL/MariaDB server host (ignored with socketPath). */
  host: z.string().default('127.0.0.1'),
  /** MySQL/MariaDB server port. */
  port: z.number().int().default(3306),
  /** MySQL/MariaDB database name (created beforehand: docs/operations/deployment.md). */
  database: z.string().default('qcowshare'),
  /** MySQL/MariaDB user. */
  username: z.string().default('qcowshare'),
  /** Prefer passwordFile or QCOWSHARE_DB_PASSWORD: a secret does not belong in the main file. */
  password: z.string().default(''),
  /** A file holding the database password (core/secrets.ts); wins over QCOWSHARE_DB_PASSWORD and `password`. */
  passwordFile: z.string().optional(),
  /** MySQL/MariaDB unix socket, instead of host and port. */
  socketPath: z.string().optional(),
  /** Database connections per service process. */
  pool: z.number().int().min(1).default(10),
});

const tokenSchema = z.strictObject({
  /** The user a request with this token acts as. */
  userId: z.string(),
  /** The user's project. */
  projectId: z.string(),
  /** The caller's roles (policy table: src/api/policy.ts). */
  roles: z.array(z.enum(['admin', 'member', 'reader', 'service'])).min(1),
  /**
   * The compute host a `service` token belongs to (its coordinator's coordinator.hostName): with it
   * the token may register that host only and record attachments on it only. Leave it out for a
   * service token that is not a compute host's.
   */
  host: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/).optional(),
});

/**
 * Limits of the node:http server under each API (storage service and coordinator; see
 * core/http-server.ts). A client that stops sending is cut off: the header and whole-request
 * time-outs are checked every quarter of the shorter one (at most every second), so a request
 * announcing 10 MB and sending 21 bytes is closed within requestTimeoutMs plus that period.
 */
const httpLimits = {
  /** Time to receive a request's line and headers (408 REQUEST_TIMEOUT, connection closed). */
  headersTimeoutMs: z.number().int().min(100).max(600_000).default(20_000),
  /** Time to receive a whole request, body included (408 REQUEST_TIMEOUT, connection closed). */
  requestTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  /** A kept-alive connection idle this long between requests is closed. */
  keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
  /** Concurrent connections; node closes any beyond it at once. */
  maxConnections: z.number().int().min(1).max(100_000).default(1024),
  /** Bytes of request line plus headers (431 HEADERS_TOO_LARGE beyond). */
  maxHeaderBytes: z.number().int().min(1024).max(1_048_576).default(16_384),
};

/** TLS of a listener: PEM files, read at start and again on SIGHUP (core/tls.ts). */
const tlsSchema = z.strictObject({
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
  /** Clients must present a certificate signed by this CA (PEM); '' = no client certificates. */
  clientCaFile: z.string().default(''),
});

/**
 * Keystone (api.auth "keystone"): tokens are validated with GET /v3/auth/tokens using this
 * service's own credentials; the password comes from passwordFile or QCOWSHARE_KEYSTONE_PASSWORD.
 */
const keystoneSchema = z.strictObject({
  /** Identity API v3 base URL, e.g. https://keystone.example:5000/v3. */
  url: z.string().default(''),
  username: z.string().default('qcowshare'),
  userDomain: z.string().default('Default'),
  project: z.string().default('service'),
  projectDomain: z.string().default('Default'),
  passwordFile: z.string().default(''),
  /** CA bundle (PEM) for an https Keystone; '' = the system's. */
  caFile: z.string().default(''),
  timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
  /** Validated tokens kept (least recently used dropped first). */
  cacheSize: z.number().int().min(1).max(1_000_000).default(10_000),
  /** How long a validation is trusted (never past the token's expiry): the delay before a revocation bites. */
  cacheTtlMs: z.number().int().min(0).max(3_600_000).default(60_000),
});

const apiSchema = z.strictObject({
  /** Address the storage API listens on. */
  host: z.string().default('127.0.0.1'),
  /** Port of the storage API (0: any free port). A port in use stops the start with PORT_IN_USE before any start-up work. */
  port: z.number().int().min(0).max(65535).default(8776),
  /**
   * A registered coordinator whose last heartbeat (coordinator.heartbeatMs) is older than this is
   * `down` in os-services (Cinder's service_down_time); never heard of: down as well.
   */
  serviceDownMs: z.number().int().min(1000).max(86_400_000).default(90_000),
  /**
   * "noauth" (embedded default; the cinder client's noauth plugin: X-Auth-Token user:project),
   * "keystone" (production), or "tokens" (a static token map: FOR TESTS ONLY).
   */
  auth: z.enum(['noauth', 'tokens', 'keystone']).default('noauth'),
  /**
   * Static tokens. Under "tokens" (tests only) every entry; under "keystone" only compute-host
   * credentials (roles ["service"] with a host): they are checked here and never sent to Keystone.
   * Prefer tokensFile: a secret does not belong in the main file.
   */
  tokens: z.record(z.string(), tokenSchema).default({}),
  /** A JSON file with more entries of the `tokens` shape (compute-host credentials). */
  tokensFile: z.string().default(''),
  keystone: keystoneSchema.prefault({}),
  /** Serve HTTPS with these files; null = plain HTTP. */
  tls: tlsSchema.nullable().default(null),
  /**
   * CA bundle (PEM) that coordinators' certificates must chain to when their registered endpoint
   * is https; '' = the system's. The certificate must also name the endpoint's host.
   */
  coordinatorCaFile: z.string().default(''),
  /** Client certificate and key (PEM files) presented to coordinators whose tls.clientCaFile asks for one; '' = none. */
  coordinatorCertFile: z.string().default(''),
  coordinatorKeyFile: z.string().default(''),
  /** Largest request body read (413 PAYLOAD_TOO_LARGE beyond), body-parser notation. */
  bodyLimit: z.string().default('64kb'),
  /**
   * An import upload refused before its archive was read (busy volume, denied): up to this much
   * of the body still arriving is read and discarded so the client gets the answer, not a reset;
   * beyond it the connection is closed. Clients sending Expect: 100-continue never send the body.
   */
  refusedUploadDrain: z.string().default('8mb'),
  /**
   * Service processes sharing the port (like Cinder's osapi_volume_workers). More than one needs
   * MySQL/MariaDB: every worker is a full service, kept apart from the others by database leases.
   */
  workers: z.number().int().min(1).max(64).default(1),
  /**
   * How long a user message (/messages: why an asynchronous operation failed) is kept, in seconds
   * (Cinder's message_ttl); expired ones are purged by the periodic sweep.
   */
  messageTtlSeconds: z.number().int().min(60).default(2_592_000),
  /**
   * A file holding the scrape credential of GET /metrics: a scraper sending
   * `Authorization: Bearer <its content>` (Prometheus: authorization.credentials_file) gets the
   * metrics, as does an admin's X-Auth-Token; anyone else gets 401/403. '' = no credential: the
   * metrics are open to anyone, as before this option (set one in production: the share gauges
   * are labelled by share address). Read at start (trailing newline ignored);
   * QCOWSHARE_METRICS_TOKEN instead of a file.
   */
  metricsTokenFile: z.string().default(''),
  /** The web console under /console (same authentication and policy as the API); false: not mounted (404). */
  console: z.boolean().default(true),
  ...httpLimits,
});

const coordinatorSchema = z.strictObject({
  /** Address the coordinator listens on. */
  host: z.string().default('127.0.0.1'),
  /** Port of the coordinator (0: any free port). A port in use stops the start with PORT_IN_USE before libvirt is contacted or jobs are resumed. */
  port: z.number().int().min(0).max(65535).default(8777),
  /** libvirtd to talk to (the project's own remote-protocol client; qemu:///system is the local system socket). */
  libvirtUri: z.string().default('qemu:///system'),
  /** The storage service's URL (snapshot metadata, self-registration). */
  metadataApi: z.string().default('http://127.0.0.1:8776'),
  /** Outbound: the `service` token this coordinator presents to the storage API (api.tokens; bind it to hostName there). Prefer serviceTokenFile. */
  serviceToken: z.string().default(''),
  /** A file holding serviceToken (wins over QCOWSHARE_COORDINATOR_SERVICE_TOKEN and serviceToken). */
  serviceTokenFile: z.string().default(''),
  /** CA bundle (PEM) that verifies the storage API's certificate when metadataApi is https; '' = the system's. */
  metadataCaFile: z.string().default(''),
  /** Serve HTTPS with these files (clientCaFile: require the storage service's client certificate); null = plain HTTP. */
  tls: tlsSchema.nullable().default(null),
  /**
   * Inbound: the only token this coordinator accepts (from the storage service). Not a token of
   * the storage API, and never the serviceToken. Empty: generated once, kept in
   * <stateDir>/inbound-token (mode 0600), and handed to the storage service by self-registration.
   */
  inboundToken: z.string().default('').refine((t) => t === '' || /^[\x21-\x7e]{16,255}$/.test(t), 'must be 16-255 printable ASCII characters without spaces'),
  /** This compute host's name in the registry of compute hosts (os-compute-hosts); empty: the OS host name. */
  hostName: z.string().regex(/^([A-Za-z0-9][A-Za-z0-9._-]{0,254})?$/).default(''),
  /** The URL the storage service calls this coordinator at; empty: http://<host>:<bound port>. */
  advertisedEndpoint: z.string().default(''),
  /** At start, register this host (hostName, advertisedEndpoint, inboundToken) with the storage API using serviceToken; retried until it succeeds. */
  selfRegister: z.boolean().default(true),
  /** Once registered, the registration is renewed this often: the heartbeat the storage service's os-services reads (up/down). */
  heartbeatMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  /** The coordinator's job journal and inbound token. */
  stateDir: z.string().default('var/coordinator'),
  /** A share mounted on this host where instance checkpoints (memory + definition) live; empty: checkpoints off. */
  checkpointDir: z.string().default(''),
  /** Guest filesystem freeze for live snapshots: require (fail without the guest agent), prefer (freeze when the agent answers), off. */
  quiesce: z.enum(['require', 'prefer', 'off']).default('prefer'),
  /** Longest a guest stays frozen for a live snapshot. */
  freezeTimeoutMs: z.number().int().min(100).default(10_000),
  /** Longest a live merge (block job) may run. */
  blockJobTimeoutMs: z.number().int().min(1000).default(3_600_000),
  /** Block-job progress poll period: polling is the authority, events only wake the poll early. */
  pollIntervalMs: z.number().int().min(10).max(60_000).default(500),
  /** After a pivot, how long to wait for the live XML to show the new chain before reporting. */
  pivotSettleTimeoutMs: z.number().int().min(100).default(30_000),
  /** Speed limit of merge block jobs in MiB/s (protects guest I/O on a busy share); 0 = unlimited. */
  blockJobBandwidthMiBps: z.number().int().min(0).default(0),
  /** Time limit of one HTTP call to the metadata API. */
  metadataTimeoutMs: z.number().int().min(100).default(15_000),
  /** Largest request body the coordinator reads (413 PAYLOAD_TOO_LARGE beyond). */
  bodyLimit: z.string().default('64kb'),
  ...httpLimits,
});

/**
 * Per-project quotas (Cinder's quota_volumes, quota_snapshots, quota_gigabytes): the limits of a
 * project without its own (os-quota-sets PUT). -1: unlimited, the default: a service that was
 * installed without quotas keeps accepting what it accepted (Cinder's own defaults are 10, 10 and
 * 1000; set them here to enforce them for every project). Gigabytes counts the volumes' sizes
 * and the virtual sizes of their snapshots, hidden ones included (usecases/quota/usage.ts).
 */
const quotasSchema = z.strictObject({
  /** Volumes a project may have (not deleted, whatever their status). */
  volumes: z.number().int().min(-1).default(-1),
  /** Snapshots a project may have (visible ones: a hidden snapshot was deleted by its owner). */
  snapshots: z.number().int().min(-1).default(-1),
  /** GiB of volumes plus snapshots (hidden ones included) a project may have. */
  gigabytes: z.number().int().min(-1).default(-1),
});

/**
 * What to do with storage keys the composed schema does not declare: reject them (the storage
 * service, which composes its drivers' options), or ignore them (a compute host's coordinator,
 * which reads the same file but none of the drivers' options: the service validates those).
 */
export type OtherStorageKeys = 'reject' | 'ignore';

/** The storage section: the core keys and a driver's own. */
const storageSection = (driverStorageOptions: z.ZodRawShape, otherStorageKeys: OtherStorageKeys) => (otherStorageKeys === 'reject'
  ? z.strictObject({ ...storageFields, ...driverStorageOptions })
  : z.object({ ...storageFields, ...driverStorageOptions }));

/** The one configuration schema, with a driver's storage options composed into the storage section. */
export function composeConfigSchema(driverStorageOptions: z.ZodRawShape = {}, otherStorageKeys: OtherStorageKeys = 'reject') {
  return z.strictObject({
    /** Log level of the JSON logs (stderr; ISO times, level names). */
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
    storage: storageSection(driverStorageOptions, otherStorageKeys).prefault({}),
    db: dbSchema.prefault({}),
    api: apiSchema.prefault({}),
    coordinator: coordinatorSchema.prefault({}),
    quotas: quotasSchema.prefault({}),
  }).superRefine((c, ctx) => {
    if (c.coordinator.inboundToken !== '' && c.coordinator.inboundToken === c.coordinator.serviceToken) {
      ctx.addIssue({ code: 'custom', path: ['coordinator', 'inboundToken'], message: 'must differ from serviceToken: one credential per direction' });
    }
    if (c.api.auth === 'keystone' && c.api.keystone.url === '') {
      ctx.addIssue({ code: 'custom', path: ['api', 'keystone', 'url'], message: 'api.auth "keystone" needs the Identity API URL' });
    }
    if (c.api.workers > 1 && c.db.dialect === 'sqlite') {
      ctx.addIssue({ code: 'custom', path: ['api', 'workers'], message: 'more than one worker needs db.dialect mysql or mariadb (SQLite serialises every writer)' });
    }
  });
}

/** The core schema alone: no driver's options. */
export const configSchema = composeConfigSchema();

/** A schema parseConfig accepts: the core one or one composed from it. */
export type ConfigSchema = z.ZodType<Config, unknown>;

export type Config = z.infer<typeof configSchema>;
export type ShareConfig = z.infer<typeof shareSchema>;
/** The core keys of the storage section (a driver's own options: its options module). */
export type StorageConfig = Config['storage'];
export type QuotaConfig = z.infer<typeof quotasSchema>;

const ENV_PREFIX = 'QCOWSHARE__';

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Apply QCOWSHARE__a__b=value overrides onto a plain object. */
export function applyEnvOverrides(base: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = structuredClone(base);
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const parts = key.slice(ENV_PREFIX.length).split('__');
    let node: Record<string, unknown> = out;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      node[part] = typeof next === 'object' && next !== null ? next : {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1] as string] = parseValue(raw);
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Validate a raw object; throws CONFIG_INVALID listing every problem with its path. */
export function parseConfig(raw: unknown, schema: ConfigSchema = configSchema): Readonly<Config> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new StorageError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, { details: { problems } });
  }
  return deepFreeze(result.data);
}

/** Read the deployment file plus environment overrides, validate, freeze. */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv; schema?: ConfigSchema } = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const file = options.file ?? env.QCOWSHARE_CONFIG ?? path.join('config', 'embedded.json');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new StorageError('CONFIG_INVALID', `cannot read configuration file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(applyEnvOverrides(raw, env), options.schema);
}
