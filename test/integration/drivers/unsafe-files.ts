/**
 * Files on a share are opened, never followed (issue 11, items 2 and 3), as one suite factory run
 * on a local directory and on a real GlusterFS volume: whatever someone with write access to the
 * share plants under a volume's name (a hard link to a file elsewhere, a symlink, a FIFO, a device
 * node, a directory, an info file naming files outside the volume) is refused with a stable code
 * by manage and by ordinary operations, and nothing changes: not the share, not the target.
 */
import { expect } from 'chai';
import { createHash, randomUUID } from 'node:crypto';
import { chmod, chown, copyFile, link, mkdir, readFile, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../../lib/core/process.js';
import { imgCreate, writePattern } from '../../../lib/qemu/img.js';
import type { VolumeDriver, VolumeRef } from '../../../drivers/contract/volume-driver.js';
import { shareListing } from '../../fixtures/shares.js';
import { driverOnShareHooks, expectCode, GiB, MiB, type DriverHarness, type SuiteShare } from './harness.js';

export type UnsafeFilesShare = SuiteShare;

interface Target {
  file: string;
  /** mode, owner and content hash: what must not change. */
  fingerprint(): Promise<string>;
}

export function describeUnsafeFiles(label: string, makeShare: () => Promise<UnsafeFilesShare>): void {
  describe(`unsafe files on a share: ${label}`, function () {
    this.timeout(180_000);
    let h: DriverHarness;
    let driver: VolumeDriver;
    let dir: string;
    let created: VolumeRef[] = [];
    let planted: string[] = [];

    driverOnShareHooks(makeShare, (on) => ({ h, driver, dir } = on));
    afterEach(async () => {
      for (const f of planted) await rm(f, { recursive: true, force: true });
      planted = [];
      for (const v of created) await driver.deleteVolume({ ...v, attachment: null });
      created = [];
    });

    const file = (name: string) => path.join(dir, name);
    const plant = (f: string) => { planted.push(f); return f; };

    async function newVolume(): Promise<VolumeRef> {
      const id = randomUUID();
      const c = await driver.createVolume({ id, sizeGiB: 1 });
      const v = { id, sizeGiB: c.sizeGiB, providerLocation: c.providerLocation };
      created.push(v);
      return v;
    }

    async function unchanged(op: () => Promise<unknown>, code: string, t?: Target): Promise<void> {
      const before = await shareListing(dir);
      const targetBefore = await t?.fingerprint();
      await expectCode(op(), code);
      expect(await shareListing(dir)).to.deep.equal(before);
      if (t) expect(await t.fingerprint(), `${t.file} changed`).to.equal(targetBefore);
    }

    /**
     * A file outside the volume, owned by root with mode 0640 (like /etc/shadow): in the scratch
     * directory when the share's file system allows a hard link from there (a local share), else a
     * file elsewhere on the share (a hard link cannot cross file systems: EXDEV on GlusterFS).
     */
    async function outsideFile(content: Buffer | string = 'secret\n'): Promise<Target & { inShare: boolean }> {
      let f = path.join(h.scratch, `outside-${randomUUID()}`);
      await writeFile(f, content);
      const probe = path.join(dir, `.probe-${randomUUID()}`);
      const inShare = await link(f, probe).then(() => unlink(probe).then(() => false), (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EXDEV') throw err;
        return true;
      });
      if (inShare) {
        await rm(f);
        f = plant(file(`not-a-volume-${randomUUID()}`));
        await writeFile(f, content);
      }
      await chown(f, 0, 0);
      await chmod(f, 0o640);
      const fingerprint = async () => {
        const st = await stat(f);
        return `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.size} ${createHash('sha256').update(await readFile(f)).digest('hex')}`;
      };
      return { file: f, inShare, fingerprint };
    }

    async function manageBoth(srcId: string, code: string, t?: Target): Promise<void> {
      await unchanged(() => driver.manageExisting({ id: randomUUID() }, { source_name: `volume-${srcId}` }), code, t);
      await unchanged(() => driver.manageExisting({ id: srcId }, { source_name: `volume-${srcId}` }), code, t);
    }

    describe('manage refuses', () => {
      it('a hard link to a file outside the volume (reproduction 2): FILE_UNSAFE, target mode and owner unchanged', async () => {
        const outside = await outsideFile(Buffer.alloc(MiB, 0x5a));
        const srcId = randomUUID();
        await link(outside.file, plant(file(`volume-${srcId}`)));
        await manageBoth(srcId, 'FILE_UNSAFE', outside);
        expect((await stat(outside.file)).mode & 0o777).to.equal(0o640);
      });

      it('a symlink to a file outside the share: FILE_UNSAFE, target unchanged', async () => {
        const outside = await outsideFile();
        const srcId = randomUUID();
        await symlink(outside.file, plant(file(`volume-${srcId}`)));
        await manageBoth(srcId, 'FILE_UNSAFE', outside);
      });

      it('a FIFO without blocking: FILE_UNSAFE', async () => {
        const srcId = randomUUID();
        await run('mkfifo', [plant(file(`volume-${srcId}`))]);
        // A blocking open of a FIFO with no writer never returns: this test would time out.
        await manageBoth(srcId, 'FILE_UNSAFE');
      });

      it('a device node: FILE_UNSAFE, never opened', async () => {
        const srcId = randomUUID();
        await run('mknod', [plant(file(`volume-${srcId}`)), 'c', '1', '3']);
        await manageBoth(srcId, 'FILE_UNSAFE');
      });

      it('a directory: FILE_UNSAFE', async () => {
        const srcId = randomUUID();
        await mkdir(plant(file(`volume-${srcId}`)));
        await manageBoth(srcId, 'FILE_UNSAFE');
      });

      it('a hard-linked info file: FILE_UNSAFE', async () => {
        const srcId = randomUUID();
        const base = plant(file(`volume-${srcId}`));
        await imgCreate({ path: base, format: 'qcow2', sizeBytes: GiB });
        const outside = await outsideFile(JSON.stringify({ active: `volume-${srcId}` }));
        await link(outside.file, plant(file(`volume-${srcId}.info`)));
        await unchanged(() => driver.manageExisting({ id: srcId }, { source_name: `volume-${srcId}` }), 'FILE_UNSAFE', outside);
      });

      const hostileInfo: [string, (id: string) => Record<string, unknown>][] = [
        ['Cinder "active": "../../../etc/passwd" (reproduction 3)', () => ({ active: '../../../etc/passwd' })],
        ['Cinder "active": an absolute path', () => ({ active: '/etc/passwd' })],
        ['Cinder "active": another volume\'s file', () => ({ active: `volume-${randomUUID()}` })],
        ['Cinder "active": a json: name', (id) => ({ active: `json:{"file":{"driver":"file","filename":"volume-${id}"}}` })],
        ['a Cinder snapshot entry naming ../', (id) => ({ active: `volume-${id}`, [randomUUID()]: `../volume-${id}` })],
        ['a Cinder snapshot entry that is not a string', (id) => ({ active: `volume-${id}`, [randomUUID()]: { file: `volume-${id}` } })],
        ['our own tree with "active": "../../../etc/passwd"', (id) => ({
          active: `volume-${id}`,
          qcowshare: {
            version: 1, volumeId: id, active: '../../../etc/passwd', sizeBytes: GiB, snapshots: {}, intent: null,
            files: { '../../../etc/passwd': { format: 'raw', backing: null } },
          },
        })],
        ['our own tree whose file names a backing outside the volume', (id) => ({
          active: `volume-${id}`,
          qcowshare: {
            version: 1, volumeId: id, active: `volume-${id}`, sizeBytes: GiB, snapshots: {}, intent: null,
            files: { [`volume-${id}`]: { format: 'qcow2', backing: '/etc/passwd' } },
          },
        })],
      ];
      for (const [why, info] of hostileInfo) {
        it(`an info file with ${why}: FILE_NAME_UNSAFE, nothing written`, async () => {
          const srcId = randomUUID();
          const base = plant(file(`volume-${srcId}`));
          await imgCreate({ path: base, format: 'qcow2', sizeBytes: GiB });
          await chmod(base, 0o600);
          await writeFile(plant(file(`volume-${srcId}.info`)), JSON.stringify(info(srcId)));
          await unchanged(() => driver.manageExisting({ id: srcId }, { source_name: `volume-${srcId}` }), 'FILE_NAME_UNSAFE');
        });
      }

      it('a lone file is still adopted, with owner and mode set through the descriptor', async () => {
        const srcId = randomUUID();
        await imgCreate({ path: file(`volume-${srcId}`), format: 'qcow2', sizeBytes: GiB });
        await chmod(file(`volume-${srcId}`), 0o600);
        const c = await driver.manageExisting({ id: srcId }, { source_name: `volume-${srcId}` });
        created.push({ id: srcId, sizeGiB: c.sizeGiB, providerLocation: c.providerLocation });
        const st = await stat(file(`volume-${srcId}`));
        expect(st.mode & 0o777).to.equal(0o660);
      });
    });

    describe('ordinary operations refuse a file swapped in for a volume\'s own', () => {
      /** Replace the volume's active file with a hard link to (or a symlink at) a copy outside it. */
      async function swap(v: VolumeRef, how: 'hard link' | 'symlink'): Promise<Target> {
        const own = file(`volume-${v.id}`);
        await writePattern(own, 'qcow2', 0x3c, 0, MiB);
        const outside = await outsideFile();
        await copyFile(own, outside.file);
        await unlink(own);
        if (how === 'hard link') await link(outside.file, own); else await symlink(outside.file, own);
        return outside;
      }

      for (const how of ['hard link', 'symlink'] as const) {
        it(`a ${how} as the active file: extend, snapshot create and clone refuse with FILE_UNSAFE, the target unchanged`, async () => {
          const v = await newVolume();
          const outside = await swap(v, how);
          await unchanged(() => driver.extendVolume(v, 2), 'FILE_UNSAFE', outside);
          await unchanged(() => driver.createSnapshot({ id: randomUUID(), volumeId: v.id }, v), 'FILE_UNSAFE', outside);
          await unchanged(() => driver.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, v), 'FILE_UNSAFE', outside);
        });
      }

      for (const how of ['hard link', 'symlink'] as const) {
        it(`a ${how} as a snapshot's frozen file: delete, revert and create-from-snapshot refuse with FILE_UNSAFE, the target unchanged`, async () => {
          const v = await newVolume();
          const s = randomUUID();
          const snap = await driver.createSnapshot({ id: s, volumeId: v.id }, v);
          await writePattern(file(snap.activeFile), 'qcow2', 0x4d, 0, MiB);
          const frozen = file(snap.ownedFile);
          const outside = await outsideFile();
          await copyFile(frozen, outside.file);
          await unlink(frozen);
          if (how === 'hard link') await link(outside.file, frozen); else await symlink(outside.file, frozen);
          await unchanged(() => driver.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: 1 }, { id: s, volumeId: v.id }, v), 'FILE_UNSAFE', outside);
          await unchanged(() => driver.revertToSnapshot(v, { id: s, volumeId: v.id }), 'FILE_UNSAFE', outside);
          await unchanged(() => driver.deleteSnapshot({ id: s, volumeId: v.id }, v), 'FILE_UNSAFE', outside);
        });
      }

      it('a hard-linked info file: operations refuse with FILE_UNSAFE', async () => {
        const v = await newVolume();
        const info = file(`volume-${v.id}.info`);
        const outside = await outsideFile(await readFile(info));
        await unlink(info);
        await link(outside.file, info);
        await unchanged(() => driver.extendVolume(v, 2), 'FILE_UNSAFE', outside);
        await unchanged(() => driver.createSnapshot({ id: randomUUID(), volumeId: v.id }, v), 'FILE_UNSAFE', outside);
      });
    });
  });
}
