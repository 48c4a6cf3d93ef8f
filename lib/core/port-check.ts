/**
 * Is the port free? Asked before a service does any start-up work (migrations, reconcile against
 * the database and the shares): a second instance on a taken port must stop before it touches
 * anything, and say how to pick another port. Binding and closing leaves a short window in which
 * another process may take the port; the real listen then still fails, only later.
 */
import { createServer } from 'node:net';
import { StorageError } from './errors.js';

export interface PortOverride {
  /** The configuration key, e.g. "api.port". */
  key: string;
}

/** The environment variable that overrides a configuration key (core/config.ts). */
export function envOverrideOf(key: string): string {
  return `QCOWSHARE__${key.split('.').join('__')}`;
}

export async function assertPortFree(host: string, port: number, override: PortOverride): Promise<void> {
  if (port === 0) return; // any free port: nothing to collide with
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ host, port }, () => resolve());
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
    const why = code === 'EADDRINUSE' ? 'is already in use (another instance?)' : 'may not be bound by this user';
    throw new StorageError('PORT_IN_USE', `port ${port} on ${host} ${why}: choose another with "${override.key}" in the configuration file or ${envOverrideOf(override.key)}=<port> in the environment`, {
      details: { host, port, configKey: override.key, env: envOverrideOf(override.key), errno: code }, cause: err,
    });
  } finally {
    await new Promise<void>((resolve) => { if (probe.listening) probe.close(() => resolve()); else resolve(); });
  }
}
