/**
 * The storage service under test: the real `serve` command as a child process in a process group
 * of its own, so a SIGKILL takes it and its qemu-img children at once (as a crashed unit under a
 * service manager would go). Its log is appended to `<dir>/<name>.log` for post-mortems.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOKENS } from './api.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ServiceHandle {
  url: string;
  pid: number;
  exited: Promise<void>;
  /** SIGKILL of the whole process group; resolves once the service process is gone. */
  kill(): Promise<void>;
}

export interface ServiceSetup {
  dir: string;
  name: string;
  db: Record<string, unknown>;
  share: { type: 'local' | 'glusterfs'; address: string };
}

/** Short lease: a restarted process takes over a dead one's volumes within seconds. */
export const LEASE_TTL_MS = 2000;

export function serviceConfig(s: ServiceSetup): Record<string, unknown> {
  return {
    log: { level: 'info' }, db: s.db,
    api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
    storage: {
      driver: 'remotefs', shares: [s.share], mountBase: path.join(s.dir, 'mnt'), leaseDir: path.join(s.dir, 'leases'),
      leaseTtlMs: LEASE_TTL_MS, fileOwner: null, reservedPercentage: 0, overSubscriptionRatio: 1000,
    },
  };
}

export async function startService(s: ServiceSetup): Promise<ServiceHandle> {
  const configFile = path.join(s.dir, `${s.name}.json`);
  writeFileSync(configFile, JSON.stringify(serviceConfig(s)));
  const logFd = openSync(path.join(s.dir, `${s.name}.log`), 'a');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), 'serve', '--config', configFile], {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', logFd], detached: true,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(http:\/\/\S+)$/m.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code, signal) => reject(new Error(`service ${s.name} exited (${code ?? signal}) before listening; see ${s.name}.log`)));
  });
  const pid = child.pid as number;
  return {
    url, pid, exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      await exited;
    },
  };
}
