/**
 * The TLS files the storage service uses when it calls a coordinator (api.coordinatorCaFile,
 * api.coordinatorCertFile / KeyFile): the driver's live-path client and the checkpoint calls
 * both take them from here; undefined when none is configured.
 */
import type { Config } from '../../lib/core/config.js';

export function coordinatorTls(api: Config['api']): { caFile?: string; certFile?: string; keyFile?: string } | undefined {
  const t = { ...(api.coordinatorCaFile ? { caFile: api.coordinatorCaFile } : {}), ...(api.coordinatorCertFile ? { certFile: api.coordinatorCertFile, keyFile: api.coordinatorKeyFile } : {}) };
  return Object.keys(t).length > 0 ? t : undefined;
}
