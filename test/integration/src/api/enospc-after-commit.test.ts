/**
 * Issue 12, case 2: a delete by commit that hits ENOSPC after its commit point (the intent is
 * recorded `committed`, qemu-img commit fails half-way) must not wedge the volume until a restart.
 * Once space returns, without a restart:
 *   - the periodic pass finishes the merge under the volume's lease and the snapshot's row follows
 *     the info file (deleted), and
 *   - without a periodic pass, the next operation on the volume finishes it first instead of
 *     refusing with INVALID_STATE; an admin delete of the row then converges to deleted.
 * Every point's data reads back, and the surviving file has no leaked clusters.
 * The share is a small ext4 file system on a loop device made by the test (root needed); real
 * qemu-img/qemu-io; SQLite and MariaDB.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { run } from '../../../../lib/core/process.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { setStepHook, STEPS } from '../../../../drivers/remotefs/snapshots/hooks.js';
import { imgCheck } from '../../../../lib/qemu/img-check.js';
import { qemuIo } from '../../../../lib/qemu/qemu-io.js';
import { BACKENDS, TOKENS, auth, eventually, type TestDb } from '../../../fixtures/api/harness.js';

const MiB = 1024 * 1024;

for (const backend of BACKENDS) {
  describe(`ENOSPC after the commit point of a merge converges without a restart (${backend.name})`, function () {
    this.timeout(300_000);
    let db: TestDb;
    let scratch: string;
    let share: string;
    let mounted = false;
    let svc: RunningService | undefined;
    let http: ReturnType<typeof supertest>;

    before(async () => {
      db = await backend.create();
      scratch = await mkdtemp(path.join(tmpdir(), 'qcs-enospc-'));
      share = path.join(scratch, 'share');
      await mkdir(share);
      const image = path.join(scratch, 'fs.img');
      await run('truncate', ['-s', `${96 * MiB}`, image]);
      await run('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
      await run('mount', ['-o', 'loop', image, share]);
      mounted = true;
    });
    afterEach(async () => { await svc?.stop(); svc = undefined; });
    after(async () => {
      if (mounted) await run('umount', [share]);
      await db?.cleanup();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    async function start(periodMs: number): Promise<void> {
      const config = parseServiceConfig({
        log: { level: 'silent' }, db: db.config,
        api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
        storage: {
          driver: 'remotefs', shares: [{ type: 'local', address: share }], mountBase: path.join(scratch, 'mnt'), leaseDir: path.join(scratch, 'leases'),
          fileOwner: null, leaseTtlMs: 2000, overSubscriptionRatio: 100,
        },
      });
      svc = await startService({ config, reaperIntervalMs: periodMs });
      http = supertest(svc.url);
    }

    const settled = <T>(check: () => Promise<T | undefined>) => eventually(check, 90_000);
    const snapshotOf = (sid: string) => http.get(`/v3/snapshots/${sid}`).set(auth('admin'));
    const waitSnap = (sid: string, status: string) => settled(async () => ((await snapshotOf(sid)).body.snapshot?.status === status ? true : undefined));
    const tree = async (vid: string) => JSON.parse(await readFile(path.join(share, `volume-${vid}.info`), 'utf8')).qcowshare as {
      active: string; snapshots: Record<string, unknown>; intent: { kind: string; committed: boolean } | null;
    };
    const io = async (vid: string, cmds: string[]) => {
      const t = await tree(vid);
      await qemuIo(path.join(share, t.active), 'qcow2', cmds);
    };

    /** A volume whose snapshot s1 owns 24 MiB and whose active file holds 20 MiB more: deleting s1 commits the 20 MiB. */
    async function volumeWithMerge(): Promise<{ vid: string; s1: string }> {
      const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await settled(async () => ((await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined));
      await io(vid, [`write -P 0x11 0 ${24 * MiB}`]);
      const s1 = (await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
      await waitSnap(s1, 'available');
      await io(vid, [`write -P 0x22 ${32 * MiB} ${20 * MiB}`]);
      return { vid, s1 };
    }

    /**
     * Delete s1 with room for the merge's space check, then leave ~8 MiB free once its intent is
     * written (after the check, before the commit writes): the commit fails with ENOSPC past its
     * commit point.
     */
    async function failedMerge(vid: string, s1: string): Promise<string> {
      const filler = path.join(share, `filler-${vid}`);
      setStepHook((step) => {
        if (step !== STEPS.commitIntentWritten) return;
        setStepHook(null);
        const st = statfsSync(share);
        execFileSync('fallocate', ['-l', String(st.bavail * st.bsize - 8 * MiB), filler]);
      });
      try {
        await http.delete(`/v3/snapshots/${s1}`).set(auth('alice')).expect(202);
        await waitSnap(s1, 'error_deleting');
      } finally {
        setStepHook(null);
      }
      const t = await tree(vid);
      expect(t.intent, 'the failed commit left its intent').to.deep.include({ kind: 'delete_snapshot', committed: true });
      return filler;
    }

    async function verifyConverged(vid: string, s1: string): Promise<void> {
      const t = await tree(vid);
      expect(t.intent).to.equal(null);
      expect(t.snapshots).to.not.have.property(s1);
      await io(vid, [`read -P 0x11 0 ${24 * MiB}`, `read -P 0 ${24 * MiB} ${8 * MiB}`, `read -P 0x22 ${32 * MiB} ${20 * MiB}`]);
      const c = await imgCheck(path.join(share, t.active), 'qcow2');
      expect({ leaks: c.leaks, corruptions: c.corruptions }).to.deep.equal({ leaks: 0, corruptions: 0 });
    }

    /** The small file system is shared by the cases: each gives its space back. */
    async function removeVolume(vid: string): Promise<void> {
      await http.delete(`/v3/volumes/${vid}?cascade=true`).set(auth('alice')).expect(202);
      await settled(async () => ((await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).status === 404 ? true : undefined));
    }

    it('the periodic pass finishes the merge once space returns; the row is deleted', async () => {
      await start(300);
      const { vid, s1 } = await volumeWithMerge();
      const filler = await failedMerge(vid, s1);
      await rm(filler);
      await settled(async () => ((await snapshotOf(s1)).status === 404 ? true : undefined));
      await verifyConverged(vid, s1);
      await removeVolume(vid);
    });

    it('without a periodic pass, the next operation finishes the merge first; an admin delete of the row converges', async () => {
      await start(0);
      const { vid, s1 } = await volumeWithMerge();
      const filler = await failedMerge(vid, s1);
      await rm(filler);
      const r = await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202);
      const s2 = r.body.snapshot.id as string;
      await settled(async () => {
        const s = (await snapshotOf(s2)).body.snapshot;
        if (s?.status === 'error') throw new Error('the next snapshot create was refused');
        return s?.status === 'available' ? true : undefined;
      });
      await verifyConverged(vid, s1);
      await http.delete(`/v3/snapshots/${s1}`).set(auth('admin')).expect(202);
      await settled(async () => {
        const s = await snapshotOf(s1);
        if (s.body.snapshot?.status === 'error_deleting') throw new Error('the delete of the merged snapshot ended error_deleting');
        return s.status === 404 ? true : undefined;
      });
      await removeVolume(vid);
    });
  });
}
