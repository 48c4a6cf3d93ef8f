/**
 * The storage service as the security suites see it: one token per role (all in project p-own)
 * and a member of another project, on SQLite or MariaDB, with the fake driver (fast, for the
 * authorization matrix) or the real RemoteFS driver on a local-directory share (for the hostile
 * requests, so the share listing can be compared). `fingerprint` is every row of every table.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QueryTypes } from 'sequelize';
import { parseServiceConfig } from '../../src/api/service-config.js';
import { startService, type RunningService } from '../../src/api/server.js';
import { FakeDriver } from '../fixtures/fake-driver.js';
import type { TestDb } from '../integration/api/harness.js';

export const OWN = 'p-own';
export const OTHER = 'p-other';

/** "none" sends no token at all. */
export type Who = 'admin' | 'member' | 'reader' | 'service' | 'other' | 'badtoken' | 'none';

export const TOKENS = {
  'tok-admin': { userId: 'u-admin', projectId: OWN, roles: ['admin'] },
  'tok-member': { userId: 'u-member', projectId: OWN, roles: ['member'] },
  'tok-reader': { userId: 'u-reader', projectId: OWN, roles: ['reader'] },
  'tok-service': { userId: 'u-service', projectId: OWN, roles: ['service'] },
  'tok-other': { userId: 'u-other', projectId: OTHER, roles: ['member'] },
} as const;

export function tokenOf(who: Who): Record<string, string> {
  return who === 'none' ? {} : { 'x-auth-token': who === 'badtoken' ? 'tok-unknown' : `tok-${who}` };
}

export interface SecurityStack {
  svc: RunningService;
  /** The share's directory (real driver only). */
  shareDir: string | null;
  stop(): Promise<void>;
}

export async function startStack(db: TestDb, kind: 'fake' | 'remotefs'): Promise<SecurityStack> {
  const dir = kind === 'remotefs' ? await mkdtemp(path.join(tmpdir(), 'qcs-sec-')) : null;
  const storage = dir
    ? { driver: 'remotefs', shares: [{ type: 'local', address: path.join(dir, 'share') }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null }
    : { leaseTtlMs: 30_000 };
  const config = parseServiceConfig({
    log: { level: 'silent' }, db: db.config,
    api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS, bodyLimit: '64kb' },
    storage: { maxVolumeSizeGiB: 1024, ...storage },
  });
  const svc = await startService({ config, reaperIntervalMs: 0, ...(dir ? {} : { driver: new FakeDriver() }) });
  return {
    svc,
    shareDir: dir ? path.join(dir, 'share') : null,
    stop: async () => {
      await svc.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

const TABLES = ['volumes', 'snapshots', 'attachments', 'operations', 'leases', 'volume_types', 'volume_type_extra_specs', 'quotas'];

export async function fingerprint(svc: RunningService): Promise<string> {
  const parts: unknown[] = [];
  for (const table of TABLES) {
    parts.push(await svc.deps.repos.db.sequelize.query(`SELECT * FROM ${table} ORDER BY 1`, { type: QueryTypes.SELECT }));
  }
  return JSON.stringify(parts);
}
