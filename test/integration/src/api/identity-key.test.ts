/**
 * The frozen files' identities are sealed with the storage service's key from its database
 * (service_secrets), with the REAL RemoteFS driver on a local share and both databases: the
 * identities a running service records open under that key; a service started again on the same
 * database uses the same key (no header is read again); a frozen file rewritten in place whose
 * identity is forged in the info file (its fresh lstat fields spliced in) is refused through the
 * API, the volume keeps its status and the share is unchanged.
 */
import { expect } from 'chai';
import { copyFile, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import type { Config } from '../../../../lib/core/config.js';
import { run } from '../../../../lib/core/process.js';
import { IDENTITY_KEY_SECRET, startService, type RunningService } from '../../../../src/api/server.js';
import { IDENTITY_KEY_BYTES } from '../../../../drivers/contract/volume-driver.js';
import { fileIdentity } from '../../../../drivers/remotefs/file-identity.js';
import { openIdentity } from '../../../../drivers/remotefs/identity-seal.js';
import { OWN_KEY, readInfo, type VolumeTree } from '../../../../drivers/remotefs/info-file.js';
import { shareListing } from '../../../fixtures/shares.js';
import { BACKENDS, apiWaits, auth, remotefsLocalConfig, type TestDb } from '../../../fixtures/api/harness.js';

for (const backend of BACKENDS) {
  describe(`api: frozen files' identities sealed with the database's key (${backend.name}, real RemoteFS)`, function () {
    this.timeout(180_000);
    let db: TestDb;
    let dir: string;
    let config: Readonly<Config>;
    let svc: RunningService | undefined;
    let http: ReturnType<typeof supertest>;

    const start = async () => {
      svc = await startService({ config, reaperIntervalMs: 0 });
      http = supertest(svc.url);
    };
    before(async () => {
      db = await backend.create();
      dir = await mkdtemp(path.join(tmpdir(), 'qcs-identity-key-'));
      config = remotefsLocalConfig(db.config, dir);
      await start();
    });
    after(async () => {
      await svc?.stop();
      await db?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const { get, settled, operation, snapshot } = apiWaits(() => http);
    const extend = async (vid: string, size: number) => {
      const r = await http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: size } }).expect(202);
      return operation(r.headers['x-operation-id'] as string);
    };

    it('identities open under the key in service_secrets, survive a restart, and a forged one is refused', async () => {
      const created = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202);
      const vid = created.body.volume.id as string;
      await settled('volumes', vid, 'available');
      await snapshot(vid);
      const s2 = await snapshot(vid);
      const volDir = await dirOf(dir, vid);
      const key = await svc!.deps.repos.secrets.getOrCreate(IDENTITY_KEY_SECRET, IDENTITY_KEY_BYTES);
      const frozen = (t: VolumeTree) => Object.keys(t.files).filter((f) => f !== t.active);
      const opens = (t: VolumeTree, f: string) => {
        const rec = t.files[f]!;
        return openIdentity(key, rec.identity, {
          volumeId: vid, file: f, stat: fileIdentity(volDir, f)!, format: rec.format, backing: rec.backing,
          backingFormat: rec.backing === null ? null : t.files[rec.backing]!.format,
        });
      };
      let tree = (await readInfo(volDir, vid))!.tree!;
      expect(frozen(tree)).to.have.length(2);
      for (const f of frozen(tree)) expect(opens(tree, f), f).to.be.a('number');

      // Restarted on the same database: the same key, so the recorded identities still hold
      // (an extend writes the info file again; the identities are kept as they were).
      await svc!.stop();
      svc = undefined;
      await start();
      expect((await extend(vid, 2)).state).to.equal('succeeded');
      const after = (await readInfo(volDir, vid))!.tree!;
      for (const f of frozen(tree)) expect(after.files[f]!.identity, f).to.equal(tree.files[f]!.identity);
      tree = after;

      // Rewritten in place, then the identity forged to match the hostile file.
      const infoPath = path.join(volDir, `volume-${vid}.info`);
      const middle = tree.snapshots[s2]!.file;
      const abs = path.join(volDir, middle);
      const saved = path.join(volDir, `saved-${vid}`); // not a volume's name: no operation touches it
      await copyFile(abs, saved);
      await run('qemu-img', ['rebase', '-q', '-u', '-f', 'qcow2', '-b', '/etc/passwd', '-F', 'raw', abs]);
      const raw = JSON.parse(await readFile(infoPath, 'utf8')) as Record<string, VolumeTree>;
      const rec = raw[OWN_KEY]!.files[middle]!;
      rec.identity = [...fileIdentity(volDir, middle)!.split('.'), ...rec.identity!.split('.').slice(3)].join('.');
      await writeFile(infoPath, JSON.stringify(raw));
      const before = await shareListing(volDir);
      const op = await extend(vid, 3);
      expect(op.state).to.equal('failed');
      expect(op.error).to.match(/^IMAGE_UNSAFE_BACKING: /);
      expect((await get('volumes', vid)).status).to.equal('available');
      expect((await get('volumes', vid)).size).to.equal(2);
      expect(await shareListing(volDir), 'the share changed').to.deep.equal(before);

      await rename(saved, abs);
      expect((await extend(vid, 3)).state).to.equal('succeeded');
      tree = (await readInfo(volDir, vid))!.tree!;
      for (const f of frozen(tree)) expect(opens(tree, f), `${f} sealed afresh`).to.be.a('number');
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
