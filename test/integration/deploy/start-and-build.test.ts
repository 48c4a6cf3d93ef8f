/**
 * scripts/build.sh's staleness check, and scripts/start.sh's contract: set-up and build first,
 * then `exec node dist/src/cli/main.js serve`, so the pid start.sh leaves IS the service and
 * SIGTERM to it stops the service (through `npm exec` it orphaned the service instead).
 * start.sh runs here from a scratch tree whose setup.sh and build.sh are stand-ins that record
 * their calls (the real set-up is not the subject), with dist/ and config/ linked from the
 * repository.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../fixtures/free-port.js';
import { REPO_ROOT } from '../../fixtures/guest/paths.js';
import { printedLine } from '../../fixtures/listen-url.js';

function build(): { status: number | null; log: string } {
  const r = spawnSync('bash', [path.join(REPO_ROOT, 'scripts/build.sh'), '--if-stale'], { encoding: 'utf8' });
  return { status: r.status, log: `${r.stdout}${r.stderr}` };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

describe('scripts/build.sh and scripts/start.sh', function () {
  this.timeout(300_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-start-'));
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('build --if-stale compiles when dist/ is older than a source, and does nothing when it is fresh', async () => {
    const first = build(); // whatever state dist/ was in, it is fresh afterwards
    expect(first.status, first.log).to.equal(0);
    const fresh = build();
    expect(fresh.status, fresh.log).to.equal(0);
    expect(fresh.log).to.not.contain('compiling');
    // Make the last build older than the sources (only dist/'s stamp is touched, not a source).
    const stamp = path.join(REPO_ROOT, 'dist/.built');
    const source = await stat(path.join(REPO_ROOT, 'src/cli/main.ts'));
    const old = new Date(source.mtimeMs - 60_000);
    await utimes(stamp, old, old);
    const stale = build();
    expect(stale.status, stale.log).to.equal(0);
    expect(stale.log).to.contain('[build] compiling to dist/');
    expect((await stat(stamp)).mtimeMs).to.be.greaterThan(source.mtimeMs);
    expect(existsSync(path.join(REPO_ROOT, 'dist/src/cli/main.js'))).to.equal(true);
    expect(existsSync(path.join(REPO_ROOT, 'dist.new'))).to.equal(false);
  });

  it('start.sh runs set-up and build, then is the service: SIGTERM to its pid stops it, exit 0', async () => {
    const tree = path.join(dir, 'tree');
    await mkdir(path.join(tree, 'scripts'), { recursive: true });
    await copyFile(path.join(REPO_ROOT, 'scripts/start.sh'), path.join(tree, 'scripts/start.sh'));
    const calls = path.join(dir, 'calls');
    await writeFile(path.join(tree, 'scripts/setup.sh'), `echo "setup $*" >> '${calls}'\n`);
    await writeFile(path.join(tree, 'scripts/build.sh'), `echo "build $*" >> '${calls}'\n`);
    await symlink(path.join(REPO_ROOT, 'dist'), path.join(tree, 'dist'));
    await symlink(path.join(REPO_ROOT, 'config'), path.join(tree, 'config'));
    const port = await freePort();
    const child = spawn('bash', [path.join(tree, 'scripts/start.sh')], {
      cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, QCOWSHARE__api__port: String(port), QCOWSHARE__log__level: 'info' },
    });
    let log = '';
    child.stderr.on('data', (b: Buffer) => { log += b.toString(); });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      const url = await printedLine(child.stdout, exited, () => new Error(`start.sh exited before it listened:\n${log}`));
      expect(url).to.equal(`http://127.0.0.1:${port}`);
      expect((await readFile(calls, 'utf8')).split('\n')).to.deep.equal(['setup base', 'build --if-stale', '']);
      // The pid start.sh was started as now runs node on the compiled CLI: exec, not a child.
      const argv = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0');
      expect(argv.slice(0, 3)).to.deep.equal(['node', 'dist/src/cli/main.js', 'serve']);
      expect(existsSync(path.join(tree, 'var/qcowshare.sqlite'))).to.equal(true);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, log).to.deep.equal({ code: 0, signal: null });
    expect(await portOpen(port)).to.equal(false);
  });
});
