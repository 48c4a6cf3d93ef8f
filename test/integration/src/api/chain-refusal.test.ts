/**
 * Issue 11, reproduction 4 through the API, with the REAL RemoteFS driver on a local share and
 * both databases: a frozen file of a volume's chain rewritten to back onto /etc/passwd. Extend,
 * snapshot delete and revert are refused with the stable code as the operation's error, the share
 * is unchanged, and the volume and snapshot keep their status (no error_extending needing an
 * admin reset); with the file put back, the same extend succeeds. The same for an info file that
 * is garbage, a symlink out of the share or a directory (INFO_FILE_CORRUPT, FILE_UNSAFE).
 */
import { expect } from 'chai';
import { copyFile, mkdir, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import supertest from 'supertest';
import { run } from '../../../../lib/core/process.js';
import { readInfo } from '../../../../drivers/remotefs/info-file.js';
import { shareListing } from '../../../fixtures/shares.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

for (const backend of BACKENDS) {
  describe(`api: a hostile file in a volume's chain is refused, statuses kept (${backend.name}, real RemoteFS)`, function () {
    this.timeout(180_000);
    let dir: string;
    let http: ReturnType<typeof supertest>;
    remotefsServiceHooks(backend, 'qcs-chain-refusal-', (s) => ({ dir, http } = s));

    const { get, settled, operation, snapshot } = apiWaits(() => http);

    it('extend, snapshot delete and revert: refused with IMAGE_UNSAFE_BACKING, nothing changed, statuses back; put back, extend runs', async () => {
      const created = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202);
      const vid = created.body.volume.id as string;
      await settled('volumes', vid, 'available');
      const s1 = await snapshot(vid);
      const s2 = await snapshot(vid);
      const volDir = await dirOf(dir, vid);
      const tree = (await readInfo(volDir, vid))?.tree;
      const middle = path.join(volDir, tree!.snapshots[s2]!.file);
      const saved = path.join(volDir, `saved-${vid}`); // not a volume's name: no operation touches it
      await copyFile(middle, saved);
      // The same inode, rewritten in place: only its ctime tells it changed.
      await run('qemu-img', ['rebase', '-q', '-u', '-f', 'qcow2', '-b', '/etc/passwd', '-F', 'raw', middle]);
      const before = await shareListing(volDir);

      const refusals: [string, () => Promise<supertest.Response>][] = [
        ['extend', () => http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } })],
        ['snapshot delete', () => http.delete(`/v3/snapshots/${s1}`).set(auth('alice'))],
        ['revert', () => http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ revert: { snapshot_id: s2 } })],
      ];
      for (const [name, send] of refusals) {
        const r = await send();
        expect(r.status, `${name}: ${JSON.stringify(r.body)}`).to.equal(202);
        const op = await operation(r.headers['x-operation-id'] as string);
        expect(op.state, name).to.equal('failed');
        expect(op.error, name).to.match(/^IMAGE_UNSAFE_BACKING: /);
        const v = await get('volumes', vid);
        expect(v.status, name).to.equal('available');
        expect(v.size, name).to.equal(1);
        for (const s of [s1, s2]) expect((await get('snapshots', s)).status, `${name}: snapshot ${s}`).to.equal('available');
        expect(await shareListing(volDir), `${name} changed the share`).to.deep.equal(before);
      }

      await rename(saved, middle);
      const ok = await http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } }).expect(202);
      expect((await operation(ok.headers['x-operation-id'] as string)).state).to.equal('succeeded');
      expect((await get('volumes', vid)).size).to.equal(2);
    });

    it('an info file that is garbage, a symlink or a directory: extend and snapshot delete refused with a stable code, statuses kept, share unchanged', async () => {
      const created = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202);
      const vid = created.body.volume.id as string;
      await settled('volumes', vid, 'available');
      const s1 = await snapshot(vid);
      const volDir = await dirOf(dir, vid);
      const info = path.join(volDir, `volume-${vid}.info`);
      const good = await readFile(info);
      const outside = path.join(dir, `outside-${vid}.json`);
      await writeFile(outside, good);
      const hostile: [string, () => Promise<void>, RegExp][] = [
        ['garbage', () => writeFile(info, '{not json'), /^INFO_FILE_CORRUPT: /],
        ['not an object', () => writeFile(info, '[]'), /^INFO_FILE_CORRUPT: /],
        ['a symlink out of the share', () => symlink(outside, info), /^FILE_UNSAFE: /],
        ['a directory', () => mkdir(info), /^FILE_UNSAFE: /],
      ];
      for (const [what, plant, code] of hostile) {
        await rm(info, { recursive: true, force: true });
        await plant();
        const before = await shareListing(volDir);
        const refusals: [string, () => Promise<supertest.Response>][] = [
          ['extend', () => http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } })],
          ['snapshot delete', () => http.delete(`/v3/snapshots/${s1}`).set(auth('alice'))],
        ];
        for (const [name, send] of refusals) {
          const r = await send();
          expect(r.status, `${what}, ${name}: ${JSON.stringify(r.body)}`).to.equal(202);
          const op = await operation(r.headers['x-operation-id'] as string);
          expect(op.state, `${what}, ${name}`).to.equal('failed');
          expect(op.error, `${what}, ${name}`).to.match(code);
          const v = await get('volumes', vid);
          expect(v.status, `${what}, ${name}: no error status needing an admin reset`).to.equal('available');
          expect(v.size, `${what}, ${name}`).to.equal(1);
          expect((await get('snapshots', s1)).status, `${what}, ${name}`).to.equal('available');
          expect(await shareListing(volDir), `${what}, ${name} changed the share`).to.deep.equal(before);
        }
        expect(await readFile(outside), `${what}: the file outside the share`).to.deep.equal(good);
      }
      await rm(info, { recursive: true, force: true });
      await writeFile(info, good);
      const ok = await http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } }).expect(202);
      expect((await operation(ok.headers['x-operation-id'] as string)).state).to.equal('succeeded');
    });

    it('an info file naming an unrecorded active file, or with a backing loop: the tree answers INFO_FILE_CORRUPT (never INTERNAL), the checker reports it', async () => {
      const created = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202);
      const vid = created.body.volume.id as string;
      await settled('volumes', vid, 'available');
      await snapshot(vid);
      const volDir = await dirOf(dir, vid);
      const info = path.join(volDir, `volume-${vid}.info`);
      const good = await readFile(info, 'utf8');
      const missing = `volume-${vid}.00000000-0000-4000-8000-000000000000`;
      const planted: [string, (t: { active: string; files: Record<string, { backing: string | null }> }) => void, number][] = [
        // The tree view reads the active file's format: an internal error (500 INTERNAL) before; the volume's state on the share refuses it (409).
        ['an unrecorded active file', (t) => { t.active = missing; }, 409],
        // Loops are refused by the operations that walk the chain; the tree view does not walk it.
        ['a backing loop', (t) => { for (const f of Object.values(t.files)) if (f.backing === null) f.backing = t.active; }, 200],
      ];
      for (const [what, change, treeStatus] of planted) {
        const doc = JSON.parse(good) as { active: string; qcowshare: { active: string; files: Record<string, { backing: string | null }> } };
        change(doc.qcowshare);
        if (doc.qcowshare.active !== JSON.parse(good).qcowshare.active) doc.active = doc.qcowshare.active;
        await writeFile(info, JSON.stringify(doc));
        const before = await shareListing(volDir);
        const t = await http.get(`/v3/volumes/${vid}/tree`).set(auth('alice'));
        expect(t.status, `${what}: ${JSON.stringify(t.body)}`).to.equal(treeStatus);
        if (treeStatus !== 200) expect(Object.values(t.body as Record<string, { error_code?: string }>)[0]?.error_code, what).to.equal('INFO_FILE_CORRUPT');
        const c = await http.post(`/v3/volumes/${vid}/os-check`).set(auth('admin')).send({ check: { repair: false } }).expect(200);
        const codes = (c.body.check.divergences as { code: string }[]).map((d) => d.code);
        expect(codes, `${what}: ${JSON.stringify(c.body.check.divergences)}`).to.include('INFO_FILE_CORRUPT');
        expect(await shareListing(volDir), `${what}: the share`).to.deep.equal(before);
      }
      await writeFile(info, good);
    });
  });
}

/** The directory holding volume `vid`'s info file (under the share's hashed mount point). */
async function dirOf(root: string, vid: string): Promise<string> {
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name === `volume-${vid}.info`) return e.parentPath;
  }
  throw new Error(`no info file of ${vid} under ${root}`);
}
