import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { formatCommand, run, wrappedArgv } from '../../../../lib/core/process.js';
import { isStorageError, type StorageError } from '../../../../lib/core/errors.js';

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readStatus(pid));
function readStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 'State: Z';
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

describe('process runner (real processes)', () => {
  it('passes arguments verbatim, never through a shell', async () => {
    const r = await run('printf', ['%s\n', 'a b', '$(id)', '; rm -rf /', "it's"]);
    expect(r.stdout).to.equal("a b\n$(id)\n; rm -rf /\nit's\n");
  });

  it('runs with LC_ALL=C', async () => {
    const r = await run('sh', ['-c', 'echo "$LC_ALL"'], { env: { LC_ALL: 'de_DE.UTF-8' } });
    expect(r.stdout.trim()).to.equal('C');
  });

  it('fails with the command, exit code and stderr', async () => {
    try {
      await run('sh', ['-c', 'echo boom >&2; exit 3']);
      expect.fail('did not throw');
    } catch (err) {
      expect(isStorageError(err, 'PROCESS_FAILED')).to.equal(true);
      const e = err as StorageError;
      expect(e.details.exitCode).to.equal(3);
      expect(e.details.stderr).to.equal('boom');
      expect(e.details.command).to.equal(formatCommand('sh', ['-c', 'echo boom >&2; exit 3']));
    }
  });

  it('reports a missing program as TOOL_MISSING', async () => {
    try {
      await run('qcs-no-such-tool', []);
      expect.fail('did not throw');
    } catch (err) {
      expect(isStorageError(err, 'TOOL_MISSING')).to.equal(true);
    }
  });

  it('kills the whole process group on timeout', async () => {
    const marker = `qcs-timeout-${process.pid}-${Date.now()}`;
    const started = Date.now();
    try {
      await run('sh', ['-c', `sleep 30 & echo $!; sleep 31 # ${marker}`], { timeoutMs: 300 });
      expect.fail('did not time out');
    } catch (err) {
      expect(isStorageError(err, 'PROCESS_TIMEOUT')).to.equal(true);
    }
    // Well before the 30 s the group's sleeps would take, with room for a loaded machine.
    expect(Date.now() - started).to.be.lessThan(20_000);
    const { stdout } = await run('pgrep', ['-f', marker], { allowFailure: true });
    expect(stdout.trim()).to.equal('');
  });

  it('applies address-space and CPU limits through prlimit', async () => {
    const r = await run('sh', ['-c', 'ulimit -v; ulimit -t'], { limits: { addressSpaceBytes: 1024 * 1024 * 1024, cpuSeconds: 60 } });
    expect(r.stdout.trim().split('\n')).to.deep.equal(['1048576', '60']);
    expect(wrappedArgv('qemu-img', ['info'], { cpuSeconds: 5 })[1]).to.deep.equal(['--pdeathsig', 'KILL', '--', 'prlimit', '--cpu=5', '--', 'qemu-img', 'info']);
  });

  it('kills the child when its parent dies by SIGKILL (no orphan keeps running)', async function () {
    this.timeout(120_000);
    const marker = `qcs-orphan-${process.pid}-${Date.now()}`;
    const parent = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/core/run-and-wait.ts', marker], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve, reject) => {
      let buf = '';
      parent.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /PID (\d+)/.exec(buf);
        if (m) resolve(Number(m[1]));
      });
      parent.on('exit', () => reject(new Error('parent exited early')));
    });
    expect(await waitFor(() => alive(pid), 60_000)).to.equal(true);
    parent.kill('SIGKILL');
    expect(await waitFor(() => !alive(pid), 60_000), 'grandchild still alive after its parent was killed').to.equal(true);
  });
});
