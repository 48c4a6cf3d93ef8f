/**
 * Start the coordinator as a child process (test/e2e/coordinator/daemon-entry.ts) and kill it
 * with SIGKILL. Its logs go to a file in the scratch directory for post-mortems.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'daemon-entry.ts');

export interface DaemonProcess {
  url: string;
  child: ChildProcess;
  kill(): Promise<void>;
}

export async function startDaemon(scratch: string, coordinator: Record<string, unknown>, env: Record<string, string> = {}): Promise<DaemonProcess> {
  const configFile = path.join(scratch, `coordinator-${Date.now()}.json`);
  writeFileSync(configFile, JSON.stringify({ log: { level: 'info' }, coordinator }));
  const logFd = openSync(path.join(scratch, 'daemon.log'), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
    env: { ...process.env, ...env, QCOWSHARE_CONFIG: configFile },
    stdio: ['ignore', 'pipe', logFd],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"listening":"([^"]+)"\}/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`coordinator exited with ${code} before listening (see daemon.log)`)));
  });
  return {
    url,
    child,
    kill: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    }),
  };
}
