/**
 * SIGKILL of the service during an incremental import onto a volume (issue 15): the upload stalls
 * part way with a file of the archive on the share under a temp name, the service is killed. The
 * target's tree is as it was (every point still reads back); once restarted, the settle pass rolls
 * the import back (its operation failed, its temp removed), and the same import then succeeds.
 */
import { expect } from 'chai';
import http from 'node:http';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type supertest from 'supertest';
import { verifyPattern, writePattern } from '../../../../lib/qemu/img.js';
import { killableServiceSuite } from '../../../fixtures/killable-service.js';
import { BACKENDS, auth, eventually } from '../../../fixtures/api/harness.js';

const LEASE_TTL_MS = 2000;
const MiB = 1024 * 1024;

type Api = ReturnType<typeof supertest>;
type Tree = { active_file: string; snapshots: { id: string; name: string | null; owned_file: string }[] };

function archiveOf(api: Api, url: string): Promise<Buffer> {
  return api.get(url).set(auth('alice')).buffer(true)
    .parse((res, cb) => { const c: Buffer[] = []; res.on('data', (d: Buffer) => c.push(d)); res.on('end', () => cb(null, Buffer.concat(c))); })
    .expect(200).then((r) => r.body as Buffer);
}

for (const backend of BACKENDS) {
  describe(`api: SIGKILL during an incremental import onto a volume (${backend.name})`, function () {
    this.timeout(300_000);
    const suite = killableServiceSuite(backend, 'qcs-import-onto-killed-', LEASE_TTL_MS);

    it('leaves the target as it was; the import then succeeds and leaves no temp', async () => {
      let api = await suite.start();
      const tree = async (vid: string) => (await api.get(`/v3/volumes/${vid}/tree`).set(auth('admin')).expect(200)).body.tree as Tree;
      const settled = (kind: 'volumes' | 'snapshots', id: string) => eventually(async () => ((await api.get(`/v3/${kind}/${id}`).set(auth('alice'))).body[kind === 'volumes' ? 'volume' : 'snapshot']?.status === 'available' ? true : undefined), 60_000);
      const r = await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'src' } }).expect(202);
      const src = r.body.volume.id as string;
      await settled('volumes', src);
      await writePattern(path.join(suite.share, (await tree(src)).active_file), 'qcow2', 0x31, 0, MiB);
      const a = await api.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: src, name: 'a' } }).expect(202);
      await settled('snapshots', a.body.snapshot.id);
      const full = await archiveOf(api, `/v3/volumes/${src}/os-export`);
      const copy = (await api.post('/v3/os-volume-import').set(auth('alice')).set('content-type', 'application/x-tar').send(full).expect(201)).body.volume.id as string;
      await writePattern(path.join(suite.share, (await tree(src)).active_file), 'qcow2', 0x52, 4 * MiB, MiB);
      const b = await api.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: src, name: 'b' } }).expect(202);
      await settled('snapshots', b.body.snapshot.id);
      const inc = await archiveOf(api, `/v3/volumes/${src}/os-export?since=${String(a.body.snapshot.id)}`);
      const before = await tree(copy);
      const filesOfCopy = async () => (await readdir(suite.share)).filter((n) => n.includes(copy)).sort();
      const listed = await filesOfCopy();
      // The operations of the copy so far (its own import as a new volume): the killed import's is the one not among them.
      const opsOf = async () => (await api.get(`/v3/operations?volume_id=${copy}&all_tenants=1`).set(auth('admin')).expect(200)).body.operations as { id: string; kind: string; state: string; error: string | null }[];
      const earlier = new Set((await opsOf()).map((o) => o.id));

      // Most of the archive, then nothing: the import waits for the rest with a temp of the copy written.
      const req = http.request(new URL(`${suite.svc!.url}/v3/volumes/${copy}/os-import`), { method: 'POST', headers: { ...auth('alice'), 'content-type': 'application/x-tar', 'content-length': String(inc.length) } });
      // The service is killed mid-upload: the client's write fails (EPIPE, ECONNRESET) on the request
      // or, once the request is destroyed, on its socket; both are the expected end of this upload.
      req.on('error', () => undefined);
      req.on('socket', (socket) => socket.on('error', () => undefined));
      req.write(inc.subarray(0, Math.floor(inc.length * 0.75)));
      await eventually(async () => ((await filesOfCopy()).some((n) => n.endsWith('.tmp')) ? true : undefined), 60_000);
      await suite.kill();
      req.destroy();

      api = await suite.start();
      expect(await tree(copy)).to.deep.equal(before);
      expect((await filesOfCopy()).filter((n) => !n.endsWith('.tmp'))).to.deep.equal(listed);
      // The settle pass (at start, or the sweep once the dead process's lease expired) rolls the
      // import back without it running again: its operation failed, its temp removed.
      const ended = await eventually(async () => (await opsOf()).find((o) => !earlier.has(o.id) && o.kind === 'import_volume' && o.state !== 'running'), 60_000);
      expect(ended.state, JSON.stringify(ended)).to.equal('failed');
      expect(ended.error).to.match(/rolled back/);
      expect(await filesOfCopy()).to.deep.equal(listed);
      expect(await tree(copy)).to.deep.equal(before);
      await verifyPattern(path.join(suite.share, before.active_file), 'qcow2', 0x31, 0, MiB);
      await verifyPattern(path.join(suite.share, before.active_file), 'qcow2', 0, 4 * MiB, MiB);

      // Once the dead process's lease has expired, the same import goes through.
      await eventually(async () => {
        // While the lease is held the service refuses (after draining the archive: a clean 409, no reset).
        const res = await api.post(`/v3/volumes/${copy}/os-import`).set(auth('alice')).set('content-type', 'application/x-tar').send(inc);
        if (res.status === 200) return true;
        expect(JSON.stringify(res.body)).to.match(/VOLUME_BUSY|LEASE_HELD/);
        return undefined;
      }, 60_000);
      const after = await tree(copy);
      expect(after.snapshots.map((s) => s.name).sort()).to.deep.equal(['a', 'b']);
      await verifyPattern(path.join(suite.share, after.active_file), 'qcow2', 0x52, 4 * MiB, MiB);
      expect((await filesOfCopy()).filter((n) => n.endsWith('.tmp'))).to.deep.equal([]);
    });
  });
}
