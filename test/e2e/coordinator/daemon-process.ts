/**
 * Start the coordinator (test/e2e/coordinator/daemon-entry.ts) or the storage service
 * (test/e2e/service-entry.ts) as a child process and kill it with SIGKILL. Logs go to a file in
 * the scratch directory for post-mortems.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ENTRY = path.join(HERE, './daemon-entry.ts');
export const SERVICE_ENTRY = path.join(HERE, '../service-entry.ts');

export interface DaemonProcess {
  url: string;
  child: ChildProcess;
  /** Resolves when the process has exited (killed or by itself). */
  exited: Promise<void>;
  kill(): Promise<void>;
}

export interface ChildOptions {
  entry: string;
  /** The whole configuration file's content. */
  config: Record<string, unknown>;
  env?: Record<string, string>;
  /** Log file name in the scratch directory. */
  logName: string;
}

export async function startChild(scratch: string, o: ChildOptions): Promise<DaemonProcess> {
  const configFile = path.join(scratch, `${o.logName}-${Date.now()}.json`);
  writeFileSync(configFile, JSON.stringify(o.config));
  const logFd = openSync(path.join(scratch, o.logName), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', o.entry], {
    env: { ...process.env, ...o.env, QCOWSHARE_CONFIG: configFile },
    stdio: ['ignore', 'pipe', logFd],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"listening":"([^"]+)"\}/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code, signal) => reject(new Error(`${o.logName}: exited (${code ?? signal}) before listening`)));
  });
  return {
    url, child, exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}

export function startDaemon(scratch: string, coordinator: Record<string, unknown>, env: Record<string, string> = {}): Promise<DaemonProcess> {
  return startChild(scratch, { entry: ENTRY, config: { log: { level: 'info' }, coordinator }, env, logName: 'daemon.log' });
}
