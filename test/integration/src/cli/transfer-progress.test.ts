/**
 * The progress of `volume export` and `volume import` run as processes against the service with
 * the real driver (SQLite): not on a terminal, one summary line (bytes, time, rate); on a terminal,
 * redraws that each erase the line, then the summary once; an import never shows 100% while the
 * service still works on the archive. What a redraw shows depends on the pace; the assertions
 * hold for any pace.
 */
import { expect } from 'chai';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { writePattern } from '../../../../lib/qemu/img.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { runCli, runCliOnTerminal } from '../../../fixtures/cli/spawn-cli.js';

const MiB = 1024 * 1024;
const SUMMARY = (label: string) => new RegExp(`${label} [0-9.]+ (MiB|KiB|B) in \\d+:\\d\\d( \\([0-9.]+ [KMG]?i?B/s\\))?`, 'g');

describe('cli: export and import progress (process, SQLite)', function () {
  this.timeout(300_000);
  let dir: string;
  let svc: RunningService;
  let http: ReturnType<typeof supertest>;
  let tmp: string;
  let vid: string;
  remotefsServiceHooks(BACKENDS[0] as (typeof BACKENDS)[number], 'qcs-cli-transfer-', (s) => ({ dir, svc, http } = s));
  const waits = apiWaits(() => http);
  const env = () => ({ QCS_URL: svc.url, QCS_TOKEN: 'alice' });

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'qcs-cli-transfer-out-'));
    const r = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'moved' } }).expect(202);
    vid = r.body.volume.id as string;
    await waits.settled('volumes', vid, 'available');
    await writePattern(path.join(dir, 'share', `volume-${vid}`), 'qcow2', 0x5c, 0, 24 * MiB);
  });
  after(async () => { if (tmp) await rm(tmp, { recursive: true, force: true }); });

  it('not on a terminal: export and import each print one summary line on stderr', async () => {
    const file = path.join(tmp, 'plain.tar');
    const exp = await runCli(['volume', 'export', 'moved', '-o', file], env());
    expect(exp.code, exp.stderr).to.equal(0);
    const size = (await stat(file)).size;
    expect(size).to.be.greaterThan(24 * MiB);
    expect(exp.stderr).to.match(/^exported [0-9.]+ MiB in \d+:\d\d( \([0-9.]+ [KMG]?i?B\/s\))?\n$/);
    const imp = await runCli(['volume', 'import', file, '--name', 'plain-copy'], env());
    expect(imp.code, imp.stderr).to.equal(0);
    expect(imp.stderr).to.match(/^imported [0-9.]+ MiB in \d+:\d\d( \([0-9.]+ [KMG]?i?B\/s\))?\n$/);
    expect(imp.stdout).to.match(/^volume [0-9a-f-]{36} available imported\n$/);
  });

  it('on a terminal: redraws erase the line, the summary comes once, an import never at 100%', async () => {
    const file = path.join(tmp, 'tty.tar');
    const exp = await runCliOnTerminal(['volume', 'export', 'moved', '-o', file], env(), '');
    expect(exp.code, exp.stdout).to.equal(0);
    expect(exp.stdout.match(SUMMARY('exported'))).to.have.length(1);
    const imp = await runCliOnTerminal(['volume', 'import', file, '--name', 'tty-copy'], env(), '');
    expect(imp.code, imp.stdout).to.equal(0);
    expect(imp.stdout.match(SUMMARY('imported'))).to.have.length(1);
    expect(imp.stdout).to.not.include('100%');
    const redraws = imp.stdout.split('\r').filter((x) => x.startsWith('\x1b[K')).map((x) => x.slice(3));
    // The last erase makes room for the summary; the ones before it carried progress.
    expect(redraws.at(-1)).to.match(SUMMARY('imported'));
    for (const d of redraws.slice(0, -1)) expect(d).to.match(/^(\d{1,2}% [0-9.]+ (B|KiB|MiB) \/ [0-9.]+ MiB {2}.+\/s {2}ETA [\d:-]+|[0-9.]+ MiB sent; the service checks and writes the volume)$/);
  });
});
