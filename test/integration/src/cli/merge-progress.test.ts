/**
 * A real merge watched through the CLI (a separate process) against the service with the real
 * RemoteFS driver, on SQLite and MariaDB: `snapshot delete --wait` reports the merge's direction,
 * the file the data goes into and its bytes, one line per phase when stderr is not a terminal,
 * and its end state exactly once (also on a terminal, where the progress line is cleared). The
 * operations API carries the same (phase: direction, into, bytes_total, bytes_done). A clone's copy
 * is reported the same way.
 * Which running phases a poll happens to see depends on the machine's pace: the assertions hold
 * for any of them (each line seen is well formed, never 100% before the end).
 */
import { expect } from 'chai';
import path from 'node:path';
import type supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { writePattern } from '../../../../lib/qemu/img.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { jsonDocs, runCli, runCliOnTerminal } from '../../../fixtures/cli/spawn-cli.js';

const MiB = 1024 * 1024;

interface TreeAnswer { active_file: string; snapshots: { id: string; owned_file: string }[] }

for (const backend of BACKENDS) {
  describe(`cli: merge progress of a snapshot delete (process, ${backend.name})`, function () {
    this.timeout(300_000);
    let dir: string;
    let svc: RunningService;
    let http: ReturnType<typeof supertest>;
    remotefsServiceHooks(backend, 'qcs-cli-merge-', (s) => ({ dir, svc, http } = s));
    const waits = apiWaits(() => http);
    const env = () => ({ QCS_URL: svc.url, QCS_TOKEN: 'alice' });
    const tree = async (vid: string) => (await http.get(`/v3/volumes/${vid}/tree`).set(auth('admin')).expect(200)).body.tree as TreeAnswer;
    const write = async (vid: string, pattern: number, offset: number, bytes: number) =>
      writePattern(path.join(dir, 'share', (await tree(vid)).active_file), 'qcow2', pattern, offset, bytes);

    /** A volume with snapshot s1 on `baseMiB` written before it and `topMiB` after (the merge's two files). */
    async function volumeWithSnapshot(name: string, baseMiB: number, topMiB: number): Promise<{ vid: string; s1: string; base: string; top: string }> {
      const r = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name } }).expect(202);
      const vid = r.body.volume.id as string;
      await waits.settled('volumes', vid, 'available');
      await write(vid, 0x11, 0, baseMiB * MiB);
      const s1 = await waits.snapshot(vid);
      await write(vid, 0x22, 256 * MiB, topMiB * MiB);
      const t = await tree(vid);
      return { vid, s1, base: t.snapshots.find((s) => s.id === s1)?.owned_file as string, top: t.active_file };
    }

    it('commit (the top holds less): direction, target and bytes in the phase lines and the end state, printed once', async () => {
      const { s1, base } = await volumeWithSnapshot('commit-me', 48, 6);
      const r = await runCli(['snapshot', 'delete', s1, '--wait'], env());
      expect(r.code, r.stderr).to.equal(0);
      const out = r.stdout.trim().split('\n');
      expect(out[0]).to.match(/^accepted \(operation [0-9a-f-]{36}\)$/);
      const opId = /operation ([0-9a-f-]{36})/.exec(out[0] ?? '')?.[1] as string;
      // The end state, once, with the merge it did.
      expect(out.slice(1)).to.have.length(1);
      expect(out[1]).to.match(new RegExp(`^delete_snapshot \\[#{30}\\] 100% succeeded: commit into ${base.replace(/\./g, '\\.')}, [0-9.]+ MiB in \\d+:\\d\\d \\([0-9.]+ [KMG]?i?B/s\\)$`));
      // Each phase seen: one line, in order, none claiming 100%.
      const phases = r.stderr.trim().split('\n').filter((l) => l !== '');
      for (const l of phases) expect(l).to.match(new RegExp(`^delete_snapshot: (commit into ${base.replace(/\./g, '\\.')}, [0-9.]+ MiB|finish \\(commit into .+ copied\\))$`));
      expect(new Set(phases).size).to.equal(phases.length);
      const op = (await http.get(`/v3/operations/${opId}`).set(auth('admin')).expect(200)).body.operation as { state: string; phase: Record<string, unknown> };
      expect(op.state).to.equal('succeeded');
      expect(op.phase).to.include({ direction: 'commit', into: base, measured: false, name: 'finish' });
      // The top's allocation: its 6 MiB of data (and no more than a little metadata besides).
      const total = op.phase.bytes_total as number;
      expect(total).to.be.within(6 * MiB, 7 * MiB);
      expect(op.phase.bytes_done).to.equal(total);
    });

    it('pull (the base holds less), watched on a terminal: the progress line cleared, the end state once', async () => {
      const { s1, top } = await volumeWithSnapshot('pull-me', 4, 40);
      const r = await runCliOnTerminal(['snapshot', 'delete', s1, '--wait'], env(), '');
      expect(r.code, r.stdout).to.equal(0);
      expect(r.stdout.match(/succeeded/g)).to.have.length(1);
      expect(r.stdout.match(/100%/g)).to.have.length(1);
      expect(r.stdout).to.match(new RegExp(`100% succeeded: pull into ${top.replace(/\./g, '\\.')}, [0-9.]+ MiB in `));
      // Every redraw starts by erasing the line (nothing of a longer line is left behind); the
      // last erase is followed by the end state alone.
      const redraws = r.stdout.split('\r').filter((x) => x.startsWith('\x1b[K'));
      expect(redraws.at(-1)?.slice(3)).to.match(/^delete_snapshot \[#{30}\] 100% succeeded: /);
      for (const d of redraws.slice(0, -1)) expect(d).to.not.include('100%', 'a running operation shown at 100%');
    });

    it('a clone reports its copy the same way: into the new volume\'s file, with its bytes', async () => {
      const { vid } = await volumeWithSnapshot('clone-me', 12, 3);
      const r = await runCli(['volume', 'clone', vid, '--name', 'the-clone', '--wait'], env());
      expect(r.code, r.stderr).to.equal(0);
      const [created, end, ...rest] = r.stdout.trim().split('\n');
      expect(rest).to.deep.equal([]);
      const clone = /^volume ([0-9a-f-]{36}) /.exec(created ?? '')?.[1] as string;
      expect(end).to.match(new RegExp(`^create_volume \\[#{30}\\] 100% succeeded: copy into volume-${clone}, [0-9.]+ MiB in \\d+:\\d\\d`));
      for (const l of r.stderr.trim().split('\n').filter((x) => x !== '')) expect(l).to.match(new RegExp(`^create_volume: (copy into volume-${clone}, [0-9.]+ MiB|finish \\(copy into .+ copied\\))$`));
    });

    it('--json --wait: the operation with its phase, no progress on stderr', async () => {
      const { s1, base } = await volumeWithSnapshot('json-me', 24, 2);
      const r = await runCli(['--json', 'snapshot', 'delete', s1, '--wait'], env());
      expect(r.stderr).to.equal('');
      const [, done] = jsonDocs(r);
      expect(done?.operation).to.include({ state: 'succeeded' });
      expect(done?.operation?.phase).to.include({ direction: 'commit', into: base });
    });
  });
}
