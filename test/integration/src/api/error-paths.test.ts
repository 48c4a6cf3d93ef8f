/**
 * What a tenant sees of the service host's file system when hostile files on the share make its
 * requests fail: nothing. With the real RemoteFS driver on a local share and both databases, an
 * info file that is garbage, an info file whose backings loop, an image with a bad header and a
 * snapshot's file removed under the service: the error answers (to the tenant and to an admin)
 * and the operations' recorded errors name the files as on the share (`volume-<id>...`), never
 * by an absolute path of this host; the service's log keeps the full path for the operator.
 */
import { expect } from 'chai';
import { open, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type supertest from 'supertest';
import { readInfo } from '../../../../drivers/remotefs/info-file.js';
import { writePattern } from '../../../../lib/qemu/qemu-io.js';
import { capturedLog } from '../../../fixtures/captured-log.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

/** An absolute path: a '/' that starts a word, with at least one more '/' in it (URLs have "://" or a host before their path). */
const ABSOLUTE_PATH = /(^|[\s'"(=[{,])\/[^\s'"/]+\//;

interface Case {
  what: string;
  /** Makes the volume's files hostile; returns the stable code the refusal must carry. */
  plant(volDir: string, vid: string, snap: string): Promise<string>;
  /** The error as met names the file by its path (the log must keep it); else it names no path at all. */
  pathInLog?: true;
}

const CASES: Case[] = [
  {
    what: 'an info file that is garbage',
    plant: async (volDir, vid) => { await writeFile(path.join(volDir, `volume-${vid}.info`), '{not json'); return 'INFO_FILE_CORRUPT'; },
    pathInLog: true,
  },
  {
    what: 'an info file whose backings loop',
    plant: async (volDir, vid) => {
      const info = path.join(volDir, `volume-${vid}.info`);
      const doc = JSON.parse(await readFile(info, 'utf8')) as { qcowshare: { active: string; files: Record<string, { backing: string | null }> } };
      for (const f of Object.values(doc.qcowshare.files)) if (f.backing === null) f.backing = doc.qcowshare.active;
      await writeFile(info, JSON.stringify(doc));
      return 'INFO_FILE_CORRUPT|IMAGE_UNSAFE_BACKING';
    },
  },
  {
    what: 'an image with a bad header',
    plant: async (volDir, vid) => {
      const tree = (await readInfo(volDir, vid))!.tree!;
      const fh = await open(path.join(volDir, tree.active), 'r+');
      try {
        // qcow2 version 99: the header no longer parses as any version qemu or the inspector knows.
        await fh.write(Buffer.from([0, 0, 0, 99]), 0, 4, 4);
      } finally {
        await fh.close();
      }
      return 'IMAGE_CORRUPT';
    },
  },
  {
    what: "a snapshot's file replaced by a symlink out of the share",
    plant: async (volDir, vid, snap) => {
      const file = path.join(volDir, (await readInfo(volDir, vid))!.tree!.snapshots[snap]!.file);
      await rm(file);
      await symlink('/etc/hostname', file);
      return 'FILE_UNSAFE';
    },
    pathInLog: true,
  },
  {
    what: "a snapshot's file removed under the service",
    plant: async (volDir, vid, snap) => {
      const tree = (await readInfo(volDir, vid))!.tree!;
      await rm(path.join(volDir, tree.snapshots[snap]!.file));
      return 'IMAGE_DIFFERS_FROM_INFO';
    },
  },
];

for (const backend of BACKENDS) {
  describe(`api: errors from hostile share files name no path of the service host (${backend.name}, real RemoteFS)`, function () {
    this.timeout(300_000);
    let dir: string;
    let http: ReturnType<typeof supertest>;
    const logged = capturedLog('debug');
    remotefsServiceHooks(backend, 'qcs-error-paths-', (s) => ({ dir, http } = s), { log: logged.log });
    const { settled, operation, snapshot } = apiWaits(() => http);

    /** Every place a path could show in a text the API gave out. */
    const leaks = (text: string, html = false): string[] => [dir, tmpdir() + path.sep].filter((p) => text.includes(p))
      // A page links its own URLs (/console/...): there the two roots above are what must not show.
      .concat(!html && ABSOLUTE_PATH.test(text) ? [`an absolute path in ${text}`] : []);

    for (const c of CASES) {
      it(`${c.what}: the recorded errors and the error answers (tenant and admin) name no absolute path${c.pathInLog ? '; the audit line keeps the path' : ''}`, async () => {
        const created = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202);
        const vid = created.body.volume.id as string;
        await settled('volumes', vid, 'available');
        const s1 = await snapshot(vid);
        await snapshot(vid);
        const volDir = await dirOf(dir, vid);
        const code = await c.plant(volDir, vid, s1);

        const refused: [string, () => Promise<supertest.Response>][] = [
          ['extend', () => http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } })],
          ['snapshot delete', () => http.delete(`/v3/snapshots/${s1}`).set(auth('alice'))],
        ];
        const texts: [string, string][] = [];
        for (const [name, send] of refused) {
          const r = await send();
          expect(r.status, `${name}: ${JSON.stringify(r.body)}`).to.equal(202);
          const opId = r.headers['x-operation-id'] as string;
          const op = await operation(opId);
          expect(op.state, name).to.equal('failed');
          expect(op.error, name).to.match(new RegExp(`^(${code}): `));
          if (c.pathInLog) expect(op.error, `${name}: the file by its name on the share`).to.include(`volume-${vid}`);
          // The owner reads the same record.
          const own = await http.get(`/v3/operations/${opId}`).set(auth('alice'));
          texts.push([`${name} (admin's view)`, op.error ?? ''], [`${name} (owner's view, ${own.status})`, JSON.stringify(own.body)]);
          // The audit line keeps what the operation met, for the operator.
          const audit = logged.lines().find((l) => l.audit?.operation === opId);
          expect(String(audit?.audit?.error ?? ''), `${name}: the audit line's error`).to.match(new RegExp(`^(${code}): `));
          if (c.pathInLog) expect(String(audit?.audit?.error), `${name}: the log names the file by its path`).to.include(volDir);
        }
        // Answered at once: the tree and the delete preview read the info file in the request.
        for (const who of ['alice', 'admin'] as const) {
          for (const url of [`/v3/volumes/${vid}/tree`, `/v3/snapshots/${s1}/delete-preview`]) {
            const r = await http.get(url).set(auth(who));
            texts.push([`GET ${url} as ${who} (${r.status})`, JSON.stringify(r.body)]);
            // A file on the share refuses the request, the service has no fault: 4xx, never 500.
            if (r.status >= 400) expect(r.status, `${url}: ${JSON.stringify(r.body)}`).to.be.below(500);
            if (code === 'INFO_FILE_CORRUPT' && c.pathInLog) {
              expect(r.status, url).to.equal(409);
              expect(r.body.conflictingRequest?.error_code, url).to.equal('INFO_FILE_CORRUPT');
              // The answer left the path out; the request's warning in the log keeps it.
              const id = r.headers['x-openstack-request-id'] as string;
              const line = logged.lines().find((l) => l.requestId === id && l.level === 'warn');
              expect(String(line?.msg), `${url}: the log line of the answer`).to.include(volDir);
            }
          }
        }
        // The checker's report (admin): what it found, as messages (its `share` is the share's configured address).
        const check = await http.post(`/v3/volumes/${vid}/os-check`).set(auth('admin')).send({ check: { repair: false } }).expect(200);
        for (const d of check.body.check.divergences as { code: string; message: string }[]) texts.push([`os-check ${d.code}`, d.message]);
        // The web console's pages over the same records and errors (its volume page reads the tree).
        const login = await http.post('/console/login').type('form').send({ token: 'alice' }).expect(303);
        const pages: [string, string][] = [];
        const cookie = (login.headers['set-cookie'] as unknown as string[]).map((x) => x.split(';')[0]).join('; ');
        for (const page of [`/console/volumes/${vid}`, '/console/operations']) {
          const r = await http.get(page).set('cookie', cookie);
          pages.push([`console ${page} (${r.status})`, r.text]);
          if (r.status >= 400) expect(r.status, page).to.be.below(500);
        }
        for (const [where, t] of texts) expect(leaks(t), `${where}: ${t}`).to.deep.equal([]);
        for (const [where, t] of pages) expect(leaks(t, true), `${where}: ${t}`).to.deep.equal([]);
      });
    }

    it('an image whose L2 entry is unaligned (the header is sound): the clone fails IMAGE_CORRUPT, not SHARE_UNAVAILABLE from the EIO qemu then reports', async () => {
      const created = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202);
      const vid = created.body.volume.id as string;
      await settled('volumes', vid, 'available');
      const volDir = await dirOf(dir, vid);
      const active = path.join(volDir, (await readInfo(volDir, vid))!.tree!.active);
      await writePattern(active, 'qcow2', 0xab, 0, 64 * 1024);
      await unalignFirstDataCluster(active);
      const r = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, source_volid: vid } }).expect(202);
      const op = await operation(r.headers['x-operation-id'] as string);
      expect(op.state).to.equal('failed');
      expect(op.error).to.match(/^IMAGE_CORRUPT: /);
      expect(leaks(op.error ?? ''), op.error ?? '').to.deep.equal([]);
      const audit = logged.lines().find((l) => l.audit?.operation === r.headers['x-operation-id']);
      expect(String(audit?.audit?.error), 'the audit line keeps the path').to.include(volDir);
    });
  });
}

/** Points the first L2 entry of a qcow2 file's first L2 table at an unaligned offset (qemu: "Cluster allocation offset ... unaligned"). */
async function unalignFirstDataCluster(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const head = Buffer.alloc(48);
    await fh.read(head, 0, 48, 0);
    const l1 = Number(head.readBigUInt64BE(40));
    const entry = Buffer.alloc(8);
    await fh.read(entry, 0, 8, l1);
    const l2 = Number(entry.readBigUInt64BE(0) & 0x00fffffffffffe00n);
    const data = Buffer.alloc(8);
    await fh.read(data, 0, 8, l2);
    const offset = Number(data.readBigUInt64BE(0) & 0x00fffffffffffe00n);
    if (offset === 0) throw new Error(`${file}: the first cluster is not allocated`);
    data.writeBigUInt64BE((1n << 63n) | BigInt(offset + 0x200));
    await fh.write(data, 0, 8, l2);
  } finally {
    await fh.close();
  }
}

/** The directory holding volume `vid`'s info file (under the share's directory). */
async function dirOf(root: string, vid: string): Promise<string> {
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name === `volume-${vid}.info`) return e.parentPath;
  }
  throw new Error(`no info file of ${vid} under ${root}`);
}
