/**
 * A MariaDB server of the campaign's own (datadir, socket and port in its scratch directory), so
 * that killing and restarting it disturbs no other test using the machine's shared server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, chmod } from 'node:fs/promises';
import { openSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { run } from '../../lib/core/process.js';
import { sleep } from './api.js';
import { freePort } from '../../test/fixtures/free-port.js';

export interface PrivateMariaDb {
  socket: string;
  pid(): number;
  /** A new database and user; the service's `db` configuration for it. */
  database(): Promise<Record<string, unknown>>;
  /** SIGKILL of the server (a crash), resolved once it is gone. */
  kill(): Promise<void>;
  /** Start it again on the same datadir; resolves once it answers. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateMariaDb(dir: string): Promise<PrivateMariaDb> {
  const datadir = path.join(dir, 'data');
  const socket = path.join(dir, 'mysqld.sock');
  await mkdir(datadir, { recursive: true });
  // mariadbd runs as the mysql user: it must reach its directory.
  await chmod(dir, 0o755);
  await run('chown', ['-R', 'mysql:mysql', dir]);
  await run('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, '--user=mysql', '--auth-root-authentication-method=normal', '--skip-test-db'], { timeoutMs: 180_000 });
  const port = await freePort();
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const answers = async () => (await run('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '-N', '-B', '-e', 'SELECT 1'], { allowFailure: true, timeoutMs: 5000 })).exitCode === 0;
  const start = async () => {
    const log = openSync(path.join(dir, 'mariadbd.log'), 'a');
    child = spawn('/usr/sbin/mariadbd', ['--no-defaults', `--datadir=${datadir}`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1', '--user=mysql',
      `--pid-file=${path.join(dir, 'mysqld.pid')}`, '--innodb-buffer-pool-size=32M', '--innodb-log-file-size=16M'], { stdio: ['ignore', log, log] });
    const c = child;
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    const deadline = Date.now() + 120_000;
    while (!(await answers())) {
      if (c.exitCode !== null) throw new Error('private mariadbd exited at start; see mariadbd.log');
      if (Date.now() > deadline) throw new Error('private mariadbd did not answer within 120 s');
      await sleep(200);
    }
  };
  const kill = async () => {
    if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    socket, start, kill,
    pid: () => child?.pid ?? -1,
    stop: async () => {
      if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    database: async () => {
      const name = `qcs_campaign_${randomBytes(5).toString('hex')}`;
      const password = randomBytes(12).toString('hex');
      await run('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '-e',
        `CREATE DATABASE ${name}; CREATE USER '${name}'@'localhost' IDENTIFIED BY '${password}'; GRANT ALL PRIVILEGES ON ${name}.* TO '${name}'@'localhost';`], { timeoutMs: 30_000 });
      return { dialect: 'mariadb', storage: '', host: 'localhost', port, database: name, username: name, password, socketPath: socket, pool: 10 };
    },
  };
}
