/**
 * The storage service's configuration: the core schema (lib/core/config.ts) with the built-in
 * drivers' storage options composed in (drivers/contract/registry.ts), so the file an operator
 * writes is validated whole, once, at start. The coordinator reads the core schema only.
 */
import { composeConfigSchema, loadConfig, parseConfig, type Config } from '../../lib/core/config.js';
import { BUILT_IN_STORAGE_OPTIONS } from '../../drivers/contract/registry.js';

export const serviceConfigSchema = composeConfigSchema(BUILT_IN_STORAGE_OPTIONS);

/** parseConfig with the drivers' options: throws CONFIG_INVALID listing every problem. */
export function parseServiceConfig(raw: unknown): Readonly<Config> {
  return parseConfig(raw, serviceConfigSchema);
}

/** loadConfig (file plus QCOWSHARE__ overrides) with the drivers' options. */
export function loadServiceConfig(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): Readonly<Config> {
  return loadConfig({ ...options, schema: serviceConfigSchema });
}
