/**
 * Issue 12, case 6: a full share. The service with the REAL RemoteFS driver and qemu-img on a
 * small tmpfs share: a write that finds the share full fails with the stable code NO_SPACE (not
 * INTERNAL), the volume keeps the status it had (no error_extending when nothing changed), and
 * once space returns the same operations succeed, with no admin action.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { run } from '../../../../lib/core/process.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { BACKENDS, TOKENS, eventually, auth, type TestDb } from '../../../fixtures/api/harness.js';

/** Writes zeros into `file` until the file system refuses (ENOSPC): the share is then full. */
async function fill(file: string): Promise<void> {
  const fh = await open(file, 'w');
  const chunk = Buffer.alloc(1024 * 1024);
  try {
    for (;;) await fh.write(chunk);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    await fh.close().catch(() => undefined);
  }
  // Small writes too, so not even a few KiB are left for an info file.
  const small = await open(`${file}.tail`, 'w');
  try {
    for (;;) await small.write(Buffer.alloc(512));
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    await small.close().catch(() => undefined);
  }
}

for (const backend of BACKENDS) {
  describe(`api: a full share answers NO_SPACE and changes nothing (${backend.name})`, function () {
    this.timeout(180_000);
    let db: TestDb;
    let dir: string;
    let share: string;
    let svc: RunningService;
    let http: ReturnType<typeof supertest>;
    let mounted = false;

    before(async () => {
      db = await backend.create();
      dir = await mkdtemp(path.join(tmpdir(), 'qcs-nospace-'));
      share = path.join(dir, 'share');
      await mkdir(share);
      // A 32 MiB file system of its own: filling it disturbs nothing else on the machine.
      await run('mount', ['-t', 'tmpfs', '-o', 'size=32m,mode=0755', `qcs-nospace-${path.basename(dir)}`, share]);
      mounted = true;
      const config = parseServiceConfig({
        log: { level: 'silent' }, db: db.config,
        api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
        storage: { driver: 'remotefs', shares: [{ type: 'local', address: share }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null, reservedPercentage: 0, overSubscriptionRatio: 1000 },
      });
      svc = await startService({ config, reaperIntervalMs: 0 });
      http = supertest(svc.url);
    });

    after(async () => {
      await svc?.stop();
      if (mounted) await run('umount', [share]).catch(() => run('umount', ['-l', share]));
      await db?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const volume = async (id: string) => (await http.get(`/v3/volumes/${id}`).set(auth('alice'))).body.volume as { status: string; size: number };
    const operation = async (id: string | undefined) => eventually(async () => {
      const op = (await http.get(`/v3/operations/${String(id)}`).set(auth('admin'))).body.operation as { state: string; error: string | null };
      return op.state === 'running' ? undefined : op;
    }, 60_000);

    it('snapshot create and extend on a full share: NO_SPACE, the volume as it was; both succeed once space returns', async () => {
      const created = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202);
      const vid = created.body.volume.id as string;
      await eventually(async () => ((await volume(vid)).status === 'available' ? true : undefined), 60_000);
      const filler = path.join(share, 'filler');
      await fill(filler);

      const snap = await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202);
      const snapOp = await operation(snap.headers['x-operation-id']);
      expect(snapOp.state).to.equal('failed');
      expect(snapOp.error, 'snapshot create on a full share').to.match(/^NO_SPACE: /);
      expect((await volume(vid)).status).to.equal('available');

      const ext = await http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } }).expect(202);
      const extOp = await operation(ext.headers['x-operation-id']);
      expect(extOp.state).to.equal('failed');
      expect(extOp.error, 'extend on a full share').to.match(/^NO_SPACE: /);
      expect(await volume(vid), 'nothing changed: the status it found').to.include({ status: 'available', size: 1 });

      // Space returns: no admin action, the same requests succeed.
      await unlink(filler);
      await unlink(`${filler}.tail`);
      const again = await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202);
      expect((await operation(again.headers['x-operation-id'])).state).to.equal('succeeded');
      const grown = await http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } }).expect(202);
      expect((await operation(grown.headers['x-operation-id'])).state).to.equal('succeeded');
      expect(await volume(vid)).to.include({ status: 'available', size: 2 });
    });

    /** The share's files of a volume (names and sizes) and its info file's bytes: what "nothing changed" compares. */
    const filesOf = async (vid: string) => {
      const out: string[] = [];
      for (const e of await readdir(share, { withFileTypes: true, recursive: true })) {
        if (!e.isFile() || !e.name.startsWith(`volume-${vid}`)) continue;
        const f = path.join(e.parentPath, e.name);
        out.push(`${path.relative(share, f)} ${(await stat(f)).size} ${e.name.endsWith('.info') ? (await readFile(f)).toString('base64') : ''}`);
      }
      return out.sort();
    };
    const activeFile = async (vid: string) => {
      const tree = (await http.get(`/v3/volumes/${vid}/tree`).set(auth('admin'))).body.tree as { active_file: string };
      for (const e of await readdir(share, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name === tree.active_file) return path.join(e.parentPath, e.name);
      throw new Error(`active file ${tree.active_file} not found`);
    };
    const writePattern = (file: string, pattern: number, offset: string) => run('qemu-io', ['-f', 'qcow2', '-c', `write -P ${pattern} ${offset} 6M`, file]);
    /** Leaves about `mib` MiB free on the share, whatever is on it now. */
    const leaveFree = async (mib: number) => {
      await fill(path.join(share, 'filler'));
      const fh = await open(path.join(share, 'filler'), 'r+');
      try {
        await fh.truncate(Math.max(0, (await fh.stat()).size - mib * 1024 * 1024));
      } finally {
        await fh.close();
      }
    };
    const freeAll = async () => {
      await rm(path.join(share, 'filler'), { force: true });
      await rm(path.join(share, 'filler.tail'), { force: true });
    };

    it('merge, create-from-snapshot and revert check the space they need first and refuse with NO_SPACE, changing nothing', async () => {
      const created = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202);
      const vid = created.body.volume.id as string;
      await eventually(async () => ((await volume(vid)).status === 'available' ? true : undefined), 60_000);
      await writePattern(await activeFile(vid), 0x11, '0');
      const s1 = await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid, name: 's1' } }).expect(202);
      const sid = s1.body.snapshot.id as string;
      expect((await operation(s1.headers['x-operation-id'])).state).to.equal('succeeded');
      await writePattern(await activeFile(vid), 0x22, '64M');
      // Deleting s1 merges 6 MiB (either way); a copy of s1 needs 6 MiB; a revert a new overlay.
      await leaveFree(4);
      const before = await filesOf(vid);

      const del = await http.delete(`/v3/snapshots/${sid}`).set(auth('alice')).expect(202);
      const delOp = await operation(del.headers['x-operation-id']);
      expect(delOp.error, 'merge pre-check').to.match(/^NO_SPACE: .*nothing was changed/);
      expect((await http.get(`/v3/snapshots/${sid}`).set(auth('alice'))).body.snapshot.status, 'the status it found').to.equal('available');

      const copy = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, snapshot_id: sid } }).expect(202);
      const copyOp = await operation(copy.headers['x-operation-id']);
      expect(copyOp.error, 'create-from-snapshot pre-check').to.match(/^NO_SPACE: /);
      expect(await filesOf(copy.body.volume.id as string), 'no file of the refused copy').to.deep.equal([]);

      await freeAll();
      await leaveFree(1);
      const rev = await http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-revert_to_snapshot': { snapshot_id: sid } }).expect(202);
      const revOp = await operation(rev.headers['x-operation-id']);
      expect(revOp.error, 'revert pre-check').to.match(/^NO_SPACE: /);
      expect((await volume(vid)).status, 'the status it found').to.equal('available');
      expect((await http.get(`/v3/snapshots/${sid}`).set(auth('alice'))).body.snapshot.status).to.equal('available');
      expect(await filesOf(vid), 'nothing changed on the share').to.deep.equal(before);

      // Space returns: the same delete succeeds and the data reads back.
      await freeAll();
      const again = await http.delete(`/v3/snapshots/${sid}`).set(auth('alice')).expect(202);
      expect((await operation(again.headers['x-operation-id'])).state).to.equal('succeeded');
      const active = await activeFile(vid);
      await run('qemu-io', ['-f', 'qcow2', '-r', '-U', '-c', 'read -P 0x11 0 6M', '-c', 'read -P 0x22 64M 6M', active]);
      const check = await run('qemu-img', ['check', '-U', active], { allowFailure: true });
      expect(check.exitCode, check.stdout).to.equal(0);
    });
  });
}
