/**
 * The storage service's unit under a real systemd: this machine's PID 1 is not systemd, so the
 * test boots a minimal Debian 12 root (made once by scripts/setup.d/50-test-nspawn.sh) with
 * `systemd-nspawn -b`, its changes kept in memory (--volatile=overlay), with scripts/install.sh's
 * output (DESTDIR: the build, production node_modules, the unit and the configuration with their
 * default paths) bound in, and this machine's node. Then, through systemctl in the container:
 * start returns once the unit's health check passed (active, /healthz answers from outside, with
 * every hardening option of the unit applied: the system is read-only in the service's mount
 * namespace), stop leaves no service process and no listener.
 *
 * Skipped, with the reason printed, only when systemd-nspawn cannot boot the root here (e.g. a
 * kernel or cgroup set-up it does not support); a missing root is a set-up failure, not a skip.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../fixtures/free-port.js';
import { REPO_ROOT } from '../../fixtures/guest/paths.js';
import { until } from '../../fixtures/until.js';

const ROOT = process.env.QCS_NSPAWN_ROOT ?? '/var/lib/qcowshare-test/nspawn-bookworm';
const UNIT = 'qcowshare-api.service';

/** A command inside the container (all its namespaces), as root. */
function inContainer(leader: number, argv: string[]): { status: number | null; out: string } {
  const r = spawnSync('nsenter', ['-t', String(leader), '-a', ...argv], { encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

async function healthz(port: number): Promise<number | undefined> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3000) })).status;
  } catch {
    return undefined;
  }
}

describe('deploy: the storage service unit under systemd (systemd-nspawn -b, Debian 12)', function () {
  this.timeout(600_000);
  let work: string;
  let nspawn: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';
  let leader = 0;
  let port = 0;

  before(async function () {
    if (!existsSync(path.join(ROOT, '.qcowshare-nspawn-root'))) {
      throw new Error(`no nspawn root at ${ROOT}: run scripts/setup.sh test (setup.d/50-test-nspawn.sh makes it)`);
    }
    work = await mkdtemp(path.join(tmpdir(), 'qcs-nspawn-'));
    const dest = path.join(work, 'root');
    // The real install command, staged under DESTDIR: the paths written into the unit are the defaults.
    const install = spawnSync('bash', ['scripts/install.sh'], {
      cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, DESTDIR: dest, NODE: '/usr/bin/node' }, timeout: 300_000,
    });
    expect(install.status, install.stderr).to.equal(0);
    port = await freePort();
    await appendFile(path.join(dest, 'etc/qcowshare/qcowshare.env'), `QCOWSHARE__api__port=${port}\n`);
    const machine = `qcs-${randomBytes(4).toString('hex')}`;
    nspawn = spawn('systemd-nspawn', [
      '-D', ROOT, '--volatile=overlay', '--register=no', '--keep-unit', '-M', machine, '--quiet',
      `--bind-ro=${realpathSync(process.execPath)}:/usr/bin/node`,
      `--bind-ro=${path.join(dest, 'opt/qcowshare')}:/opt/qcowshare`,
      `--bind-ro=${path.join(dest, 'etc/qcowshare')}:/etc/qcowshare`,
      `--bind-ro=${path.join(dest, 'etc/systemd/system', UNIT)}:/etc/systemd/system/${UNIT}`,
      `--bind=${path.join(dest, 'var/lib/qcowshare')}:/var/lib/qcowshare`,
      '-b',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const child = nspawn;
    child.stdout?.on('data', (b: Buffer) => { log += b.toString(); });
    child.stderr?.on('data', (b: Buffer) => { log += b.toString(); });
    let gone = false;
    exited = new Promise((resolve) => child.once('exit', () => { gone = true; resolve(); }));
    // The container's init is nspawn's child; it is up once systemd says running (or degraded: a unit of the minimal root failed).
    const booted = await until('the container booted', async () => {
      if (gone) return 'exited' as const;
      const pid = Number(spawnSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n')[0]);
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      const state = inContainer(pid, ['systemctl', 'is-system-running']).out;
      if (state === 'running' || state === 'degraded') { leader = pid; return 'up' as const; }
      return undefined;
    }, 180_000, 500).catch((err: Error) => `not up: ${err.message}` as const);
    if (booted !== 'up') {
      const reason = `systemd-nspawn could not boot ${ROOT} here (${booted}): ${log.slice(-2000)}`;
      console.log(`      SKIPPED: ${reason}`);
      this.skip();
    }
  });

  after(async () => {
    if (nspawn?.exitCode === null) {
      // SIGTERM: nspawn asks the container's systemd to shut down.
      nspawn.kill('SIGTERM');
      const deadline = new Promise((r) => setTimeout(r, 60_000, 'timeout'));
      if ((await Promise.race([exited, deadline])) === 'timeout') nspawn.kill('SIGKILL');
      await exited;
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('start: active once /healthz answers (ExecStartPost); stop: no service process, no listener', async () => {
    const start = inContainer(leader, ['systemctl', 'start', UNIT]);
    expect(start.status, `${start.out}\n${inContainer(leader, ['journalctl', '-u', UNIT, '--no-pager', '-n', '40']).out}`).to.equal(0);
    expect(inContainer(leader, ['systemctl', 'is-active', UNIT]).out).to.equal('active');
    // start returned after the health check: the service answers from outside the container already.
    expect(await healthz(port)).to.equal(200);
    const mainPid = Number(inContainer(leader, ['systemctl', 'show', '-p', 'MainPID', '--value', UNIT]).out);
    expect(mainPid).to.be.greaterThan(0);
    expect(inContainer(leader, ['cat', `/proc/${mainPid}/cmdline`]).out.split('\0')).to.include('/opt/qcowshare/dist/src/cli/main.js');
    // The unit's sandbox is applied (ProtectSystem=strict): in the service's mount namespace the system is read-only.
    const probe = inContainer(leader, ['nsenter', '-t', String(mainPid), '-m', 'touch', '/usr/qcs-write-probe']);
    expect(probe.status, probe.out).to.not.equal(0);
    expect(probe.out).to.match(/Read-only file system/);

    const stop = inContainer(leader, ['systemctl', 'stop', UNIT]);
    expect(stop.status, stop.out).to.equal(0);
    expect(inContainer(leader, ['systemctl', 'is-active', UNIT]).out).to.equal('inactive');
    expect(inContainer(leader, ['test', '-e', `/proc/${mainPid}`]).status, 'the service process is gone').to.equal(1);
    expect(inContainer(leader, ['systemctl', 'show', '-p', 'MainPID', '--value', UNIT]).out).to.equal('0');
    expect(await healthz(port)).to.equal(undefined);
  });
});
