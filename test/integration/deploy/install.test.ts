/**
 * The deployment path: the systemd units pass `systemd-analyze verify`, scripts/install.sh puts
 * the compiled build, production dependencies, units and configuration under a root of the
 * test's own (the units' paths rewritten to it), and the installed unit's command lines run the
 * service: ExecStartPost's health check returns once /healthz answers, SIGTERM stops it cleanly.
 * (No systemd runs here: the test runs the unit's command lines itself, without its sandbox.)
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../fixtures/free-port.js';
import { REPO_ROOT } from '../../fixtures/guest/paths.js';

const UNITS = ['qcowshare-api.service', 'qcowshare-coordinator.service'];

/** `systemd-analyze verify`: exit status and everything it printed (warnings do not fail it). */
function verify(files: string[]): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...files], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** The unit's directives as key -> values (in order). */
function directives(unit: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const hit = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (hit?.[1] === undefined || hit[2] === undefined) continue;
    m.set(hit[1], [...(m.get(hit[1]) ?? []), hit[2]]);
  }
  return m;
}

function one(d: Map<string, string[]>, key: string): string {
  const v = d.get(key);
  if (v?.length !== 1 || v[0] === undefined) throw new Error(`unit: expected one ${key}=, found ${v?.length ?? 0}`);
  return v[0];
}

/** Environment= lines of a unit ("A=1 B=2" forms, no quoting used in ours). */
function unitEnv(d: Map<string, string[]>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of d.get('Environment') ?? []) {
    for (const pair of line.split(/\s+/)) {
      const i = pair.indexOf('=');
      env[pair.slice(0, i)] = pair.slice(i + 1);
    }
  }
  return env;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

describe('deployment: systemd units and scripts/install.sh', function () {
  this.timeout(600_000);
  let root: string;
  let dirs: { prefix: string; sysconf: string; state: string; units: string };
  let installLog = '';

  const install = () => {
    const r = spawnSync('bash', [path.join(REPO_ROOT, 'scripts/install.sh')], {
      encoding: 'utf8',
      env: { ...process.env, PREFIX: dirs.prefix, SYSCONFDIR: dirs.sysconf, STATEDIR: dirs.state, UNITDIR: dirs.units, DESTDIR: '' },
    });
    installLog = `${r.stdout}${r.stderr}`;
    expect(r.status, installLog).to.equal(0);
    return installLog;
  };

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'qcs-install-'));
    dirs = {
      prefix: path.join(root, 'opt/qcowshare'),
      sysconf: path.join(root, 'etc/qcowshare'),
      state: path.join(root, 'var/lib/qcowshare'),
      units: path.join(root, 'etc/systemd/system'),
    };
    install();
  });

  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("the repository's units pass systemd-analyze verify without a single warning", () => {
    const r = verify(UNITS.map((u) => path.join(REPO_ROOT, 'deploy/systemd', u)));
    expect(r.output).to.equal('');
    expect(r.status).to.equal(0);
  });

  it('the check reports a broken unit (a bad Restart= value, a missing executable)', async () => {
    const unit = await readFile(path.join(REPO_ROOT, 'deploy/systemd/qcowshare-api.service'), 'utf8');
    const broken = path.join(root, 'broken.service');
    await writeFile(broken, unit.replace('Restart=on-failure', 'Restart=sometimes').replace('ExecStart=/usr/bin/node ', 'ExecStart=/nonexistent/node '));
    const r = verify([broken]);
    expect(r.output).to.contain('sometimes').and.to.contain('/nonexistent/node');
    expect(r.status).to.not.equal(0);
  });

  it('install prints its steps and puts the build, units and configuration under the prefixes', async () => {
    expect(installLog).to.match(/\[install\] compiled build ->/).and.to.match(/\[install\] done in \d+ s/);
    expect(existsSync(path.join(dirs.prefix, 'dist/src/cli/main.js'))).to.equal(true);
    expect(existsSync(path.join(dirs.prefix, 'dist/coordinator/main.js'))).to.equal(true);
    expect(existsSync(path.join(dirs.prefix, 'deploy/wait-healthy.mjs'))).to.equal(true);
    // Production dependencies only: no TypeScript tooling at run time.
    const modules = await readdir(path.join(dirs.prefix, 'node_modules'));
    expect(modules).to.include.members(['express', 'sequelize', 'sqlite3', 'commander']);
    expect(modules).to.not.include.members(['tsx']);
    expect(modules).to.not.include('typescript');
    expect(modules).to.not.include('mocha');
    for (const unit of UNITS) {
      const text = await readFile(path.join(dirs.units, unit), 'utf8');
      expect(text).to.contain(dirs.prefix).and.to.contain(dirs.sysconf).and.to.contain(dirs.state);
      // Every default location was rewritten: none is left outside the test's root.
      const outside = [dirs.prefix, dirs.sysconf, dirs.state].reduce((t, dir) => t.split(dir).join(''), text);
      expect(outside).to.not.contain('/opt/qcowshare').and.to.not.contain('/etc/qcowshare').and.to.not.contain('/var/lib/qcowshare');
    }
    expect((await stat(path.join(dirs.sysconf, 'qcowshare.env'))).mode & 0o777).to.equal(0o600);
    const r = verify(UNITS.map((u) => path.join(dirs.units, u)));
    expect(r.output).to.equal('');
    expect(r.status).to.equal(0);
  });

  it("runs the installed unit's ExecStart; ExecStartPost returns once healthy; SIGTERM stops it cleanly", async () => {
    const d = directives(await readFile(path.join(dirs.units, 'qcowshare-api.service'), 'utf8'));
    const [cmd, ...args] = one(d, 'ExecStart').split(/\s+/);
    const [postCmd, ...postArgs] = one(d, 'ExecStartPost').split(/\s+/);
    expect(path.isAbsolute(cmd as string), 'ExecStart names node by its absolute path').to.equal(true);
    expect(args[0]).to.equal(path.join(dirs.prefix, 'dist/src/cli/main.js'));
    const port = await freePort();
    // The unit's environment, the port moved off the default so parallel runs do not collide.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...unitEnv(d), QCOWSHARE__api__port: String(port) };
    const cwd = one(d, 'WorkingDirectory');
    const child = spawn(cmd as string, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stderr.on('data', (b: Buffer) => { log += b.toString(); });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      const post = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const p = spawn(postCmd as string, postArgs, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
        p.stderr.on('data', (b: Buffer) => { out += b.toString(); });
        p.once('exit', (code) => resolve({ code, out }));
      });
      expect(post.code, `${post.out}\n${log}`).to.equal(0);
      expect(post.out).to.contain(`healthy: http://127.0.0.1:${port}/healthz`);
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).to.equal(200);
      expect(((await res.json()) as { status: string }).status).to.equal('ok');
      // The database the installed configuration names was created under the state directory.
      expect(existsSync(path.join(dirs.state, 'qcowshare.sqlite'))).to.equal(true);
    } finally {
      child.kill('SIGTERM');
    }
    const end = await exited;
    expect(end, log).to.deep.equal({ code: 0, signal: null });
    expect(log).to.contain('"msg":"stopping"');
    expect(await portOpen(port)).to.equal(false);
  });

  it('ExecStartPost fails, naming the URL, when nothing answers', async () => {
    const d = directives(await readFile(path.join(dirs.units, 'qcowshare-api.service'), 'utf8'));
    const [postCmd, ...postArgs] = one(d, 'ExecStartPost').split(/\s+/);
    const port = await freePort();
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...unitEnv(d), QCOWSHARE__api__port: String(port) };
    const r = spawnSync(postCmd as string, [...postArgs.slice(0, -1), '2'], { cwd: one(d, 'WorkingDirectory'), env, encoding: 'utf8' });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain(`not healthy after 2 s: http://127.0.0.1:${port}/healthz`);
  });

  it('installing again keeps edited configuration, refreshes the examples, and skips unchanged dependencies', async () => {
    const conf = path.join(dirs.sysconf, 'qcowshare.json');
    const edited = (await readFile(conf, 'utf8')).replace('"level": "info"', '"level": "warn"');
    await writeFile(conf, edited);
    await rm(path.join(dirs.sysconf, 'qcowshare.json.example'));
    const log = install();
    expect(log).to.contain('production node_modules: up to date');
    expect(await readFile(conf, 'utf8')).to.equal(edited);
    expect(existsSync(path.join(dirs.sysconf, 'qcowshare.json.example'))).to.equal(true);
    expect(existsSync(path.join(dirs.prefix, 'dist/src/cli/main.js'))).to.equal(true);
  });
});
