/**
 * The compiled build runs without TypeScript tooling: `serve` with api.workers = 2 on MariaDB
 * (node:cluster forks node on the same compiled file: no tsx loader in any process), and the
 * coordinator daemon from dist/. Each answers /healthz and stops cleanly on SIGTERM.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { childPids } from '../../fixtures/child-pids.js';
import { freePort } from '../../fixtures/free-port.js';
import { REPO_ROOT } from '../../fixtures/guest/paths.js';
import { LISTEN_URL, printedLine } from '../../fixtures/listen-url.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/mariadb.js';

/** Start `argv`, resolve with the first stdout line matching `pattern` (its first group). */
function startAndRead(argv: string[], env: NodeJS.ProcessEnv, pattern: RegExp): { child: ChildProcess; line: Promise<string>; exited: Promise<{ code: number | null; signal: string | null }>; log: () => string } {
  const child = spawn(argv[0] as string, argv.slice(1), { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (b: Buffer) => { log += b.toString(); });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const line = printedLine(child.stdout as Readable, exited, (e) => new Error(`${argv.join(' ')} exited (${e.code ?? e.signal}) before it listened:\n${log}`), pattern);
  return { child, line, exited, log: () => log };
}

const cmdline = async (pid: number) => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');

describe('compiled build: processes run node on dist/ only', function () {
  this.timeout(300_000);
  let dir: string;
  let db: TestDatabase | undefined;

  before(async () => {
    const build = spawnSync('bash', [path.join(REPO_ROOT, 'scripts/build.sh'), '--if-stale'], { encoding: 'utf8' });
    expect(build.status, build.stderr).to.equal(0);
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-compiled-'));
  });

  after(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the CLI runs through a bin symlink (as npm links qcs), by its shebang', async () => {
    const link = path.join(dir, 'qcs');
    await symlink(path.join(REPO_ROOT, 'dist/src/cli/main.js'), link);
    const r = spawnSync(link, ['--help'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('Usage: qcowshare').and.to.contain('serve');
  });

  it('serve with two workers on MariaDB: every process is node on dist/src/cli/main.js; SIGTERM stops them all', async () => {
    db = await createTestDatabase();
    const config = path.join(dir, 'workers.json');
    await writeFile(config, JSON.stringify({
      log: { level: 'info' },
      storage: { driver: 'remotefs', shares: [{ type: 'local', address: path.join(dir, 'share') }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases') },
      db: db.config,
      api: { host: '127.0.0.1', port: await freePort(), auth: 'noauth', workers: 2 },
    }));
    const main = path.join(REPO_ROOT, 'dist/src/cli/main.js');
    const svc = startAndRead([process.execPath, main, 'serve', '--config', config], { PATH: process.env.PATH }, LISTEN_URL);
    try {
      const url = await svc.line;
      const res = await fetch(`${url}/healthz`);
      expect(res.status).to.equal(200);
      const pid = svc.child.pid as number;
      const workers = await childPids(pid);
      expect(workers).to.have.length(2);
      for (const p of [pid, ...workers]) {
        const argv = await cmdline(p);
        expect(argv[0]).to.equal(process.execPath);
        // No loader (--import tsx / --require tsx) and the compiled file as the script.
        expect(argv.join(' ')).to.not.match(/tsx/);
        expect(argv[1]).to.equal(main);
      }
    } finally {
      svc.child.kill('SIGTERM');
    }
    expect(await svc.exited, svc.log()).to.deep.equal({ code: 0, signal: null });
    expect(svc.log()).to.contain('"msg":"stopping workers"');
  });

  it('the coordinator daemon from dist/coordinator/main.js answers /healthz and stops on SIGTERM', async () => {
    const config = path.join(dir, 'coordinator.json');
    await writeFile(config, JSON.stringify({
      storage: { mountBase: path.join(dir, 'coord-mnt') },
      coordinator: { host: '127.0.0.1', port: await freePort(), stateDir: path.join(dir, 'coord-state'), serviceToken: 'compiled-test-token' },
    }));
    const main = path.join(REPO_ROOT, 'dist/coordinator/main.js');
    const co = startAndRead([process.execPath, main], { PATH: process.env.PATH, QCOWSHARE_CONFIG: config }, /"listening":"(http:\/\/[^"]+)"/);
    try {
      const url = await co.line;
      const res = await fetch(`${url}/healthz`);
      expect(res.status).to.equal(200);
      expect((await cmdline(co.child.pid as number)).join(' ')).to.not.match(/tsx/);
    } finally {
      co.child.kill('SIGTERM');
    }
    expect(await co.exited, co.log()).to.deep.equal({ code: 0, signal: null });
  });
});
