/**
 * What a contract run needs: a driver loaded through the registry with a fresh lease directory
 * and the given shares, plus small helpers shared by the contract tests.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { type Config, type ShareConfig } from '../../../lib/core/config.js';
import { parseServiceConfig } from '../../../src/api/service-config.js';
import { StorageError, isStorageError } from '../../../lib/core/errors.js';
import { FileLeaseManager } from '../../../lib/core/file-lease.js';
import { loadDriver } from '../../../drivers/contract/registry.js';
import { createShare } from '../../../lib/shares/index.js';
import type { VolumeDriver } from '../../../drivers/contract/volume-driver.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
/** Owner given to created files: numeric ids that need not exist on the machine. */
export const TEST_UID = 23456;
export const TEST_GID = 23457;

export interface DriverHarness {
  driver: VolumeDriver;
  config: Readonly<Config>;
  leases: FileLeaseManager;
  /** Scratch directory outside the share (hostile images' data files...). */
  scratch: string;
  cleanup(): Promise<void>;
}

export async function makeHarness(share: ShareConfig, storage: Partial<Config['storage']> = {}): Promise<DriverHarness> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'driver-contract-'));
  const config = parseServiceConfig({
    log: { level: 'silent' },
    storage: {
      shares: [share],
      mountBase: path.join(scratch, 'mnt'),
      leaseDir: path.join(scratch, 'leases'),
      fileOwner: `${TEST_UID}:${TEST_GID}`,
      fileMode: '0660',
      maxVolumeSizeGiB: 64,
      ...storage,
    },
  });
  const leases = new FileLeaseManager(config.storage.leaseDir);
  // The registry of compute hosts: the contract's attached volumes name hosts "compute-1" and "c",
  // whose coordinator does not listen (port 1): an online operation must try it and change nothing.
  const coordinators = {
    lookup: async (host: string) => {
      if (host !== 'compute-1' && host !== 'c') throw new StorageError('COMPUTE_HOST_UNKNOWN', `compute host ${host} is not registered`);
      return { endpoint: 'http://127.0.0.1:1', credential: 'contract-test-credential' };
    },
  };
  const driver = await loadDriver({ config, leases, logger: pino({ level: 'silent' }), holderId: `test-${randomUUID()}`, coordinators });
  return { driver, config, leases, scratch, cleanup: () => rm(scratch, { recursive: true, force: true }) };
}

export async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  if (err === undefined) expect.fail(`expected ${code}, but it succeeded`);
  expect(isStorageError(err) ? err.code : String(err), String((err as Error).message)).to.equal(code);
}

/** A share a suite factory runs on (local directory, GlusterFS volume...) and how to remove it. */
export interface SuiteShare {
  share: ShareConfig;
  teardown(): Promise<void>;
}

export interface DriverOnShare<S extends SuiteShare> {
  target: S;
  h: DriverHarness;
  driver: VolumeDriver;
  /** The share's mount point. */
  dir: string;
}

/**
 * Inside a describe: before the suite, the share made, a driver harness on it (`use` receives
 * them) and the driver set up; after it, the share torn down and the harness removed.
 */
export function driverOnShareHooks<S extends SuiteShare>(makeShare: () => Promise<S>, use: (on: DriverOnShare<S>) => void): void {
  let target: S | undefined;
  let h: DriverHarness | undefined;
  before(async () => {
    target = await makeShare();
    h = await makeHarness(target.share);
    use({ target, h, driver: h.driver, dir: createShare(target.share, h.config.storage.mountBase).mountPoint });
    await h.driver.doSetup();
  });
  after(async () => {
    await target?.teardown();
    await h?.cleanup();
  });
}
