/**
 * Loads the volume driver named by `storage.driver`: a built-in name ("remotefs") or the path of
 * a module (relative to the working directory) exporting a VolumeDriverFactory as `createDriver`
 * or as its default export. The storage service reaches drivers only through here.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { StorageError } from '../../lib/core/errors.js';
import type { z } from 'zod';
import { remotefsStorageOptions } from '../remotefs/options.js';
import type { DriverContext, VolumeDriver, VolumeDriverFactory } from './volume-driver.js';

const BUILT_IN: Record<string, () => Promise<VolumeDriverFactory>> = {
  remotefs: async () => (await import('../remotefs/driver.js')).createRemoteFsDriver,
};

/**
 * The storage options of the built-in drivers, composed into the service's configuration
 * whichever driver is chosen: a file written for one keeps validating when storage.driver
 * changes. A driver loaded from a module path reads no options of its own from the file.
 */
export const BUILT_IN_STORAGE_OPTIONS: z.ZodRawShape = { ...remotefsStorageOptions };

/** Methods every driver must have; checked once at load so a bad plugin fails at start. */
const REQUIRED_METHODS = [
  'doSetup', 'createVolume', 'deleteVolume', 'extendVolume', 'createClonedVolume', 'createVolumeFromSnapshot',
  'createSnapshot', 'deleteSnapshot', 'revertToSnapshot', 'getSnapshotTree', 'initializeConnection',
  'terminateConnection', 'getVolumeStats', 'manageExisting', 'unmanage', 'reconcile',
] as const;

export function isModulePath(name: string): boolean {
  return name.startsWith('.') || path.isAbsolute(name) || /\.(?:[cm]?[jt]s)$/.test(name);
}

async function factoryFromModule(spec: string): Promise<VolumeDriverFactory> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path.resolve(spec)).href)) as Record<string, unknown>;
  } catch (err) {
    throw new StorageError('CONFIG_INVALID', `storage.driver: cannot load module ${spec}: ${(err as Error).message}`, { cause: err });
  }
  const factory = mod['createDriver'] ?? mod['default'];
  if (typeof factory !== 'function') {
    throw new StorageError('CONFIG_INVALID', `storage.driver: module ${spec} exports no createDriver function`);
  }
  return factory as VolumeDriverFactory;
}

export async function resolveDriverFactory(name: string): Promise<VolumeDriverFactory> {
  const builtIn = Object.hasOwn(BUILT_IN, name) ? BUILT_IN[name] : undefined;
  if (builtIn) return builtIn();
  if (isModulePath(name)) return factoryFromModule(name);
  throw new StorageError('CONFIG_INVALID', `storage.driver: unknown driver ${JSON.stringify(name)} (built in: ${Object.keys(BUILT_IN).join(', ')}; or a module path)`);
}

function assertDriver(driver: unknown, name: string): asserts driver is VolumeDriver {
  const d = driver as Record<string, unknown> | null;
  const missing = d === null || typeof d !== 'object' ? ['(not an object)'] : REQUIRED_METHODS.filter((m) => typeof d[m] !== 'function');
  if (missing.length > 0) {
    throw new StorageError('CONFIG_INVALID', `storage.driver ${name}: the factory returned no complete VolumeDriver (missing: ${missing.join(', ')})`);
  }
}

/** The driver configured in ctx.config.storage.driver (or `name`). Does not call doSetup(). */
export async function loadDriver(ctx: DriverContext, name: string = ctx.config.storage.driver): Promise<VolumeDriver> {
  const factory = await resolveDriverFactory(name);
  const driver = factory(ctx);
  assertDriver(driver, name);
  return driver;
}
