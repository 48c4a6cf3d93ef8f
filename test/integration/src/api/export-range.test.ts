/**
 * Resuming an export download by Range (issue 15), real driver on a local share, SQLite and
 * MariaDB: a full export of a detached volume announces Accept-Ranges and a strong ETag; a
 * download cut in two (a range to byte k, then the rest with If-Range) is byte for byte the one
 * full download (sha256); a range past the end is 416 RANGE_NOT_SATISFIABLE with a Content-Range
 * naming the length; a suffix is the last bytes (all of them when longer than the archive); an
 * inverted, malformed or multiple range is ignored (the whole archive, 200); once the volume changed, If-Range with the old ETag gets the whole new
 * archive (200); an incremental export offers no ranges.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type supertest from 'supertest';
import { writePattern } from '../../../../lib/qemu/img.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { binary } from '../../../fixtures/binary-body.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const backend of BACKENDS) {
  describe(`api: export download resumed by Range (${backend.name})`, function () {
    this.timeout(300_000);
    let dir: string;
    let api: ReturnType<typeof supertest>;
    remotefsServiceHooks(backend, 'qcs-export-range-', (s) => ({ dir, http: api } = s));
    const waits = apiWaits(() => api);
    const share = () => path.join(dir, 'share');
    const activeOf = async (vid: string) => (await api.get(`/v3/volumes/${vid}/tree`).set(auth('admin')).expect(200)).body.tree.active_file as string;
    const get = (vid: string, headers: Record<string, string> = {}, query: Record<string, string> = {}) =>
      api.get(`/v3/volumes/${vid}/os-export`).query(query).set({ ...auth('alice'), ...headers }).buffer(true).parse(binary);
    let vid: string;
    let snap: string;

    before(async () => {
      const r = await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'ranged' } }).expect(202);
      vid = r.body.volume.id as string;
      await waits.settled('volumes', vid, 'available');
      await writePattern(path.join(share(), await activeOf(vid)), 'qcow2', 0x17, 0, 2 * MiB);
      snap = await waits.snapshot(vid);
      await writePattern(path.join(share(), await activeOf(vid)), 'qcow2', 0x28, 3 * MiB, MiB);
    });

    it('a download cut in two and resumed with If-Range is the full download, byte for byte', async () => {
      const full = await get(vid).expect(200);
      expect(full.headers['accept-ranges']).to.equal('bytes');
      const etag = String(full.headers.etag);
      expect(etag).to.match(/^"[0-9a-f]{32}"$/);
      const whole = full.body as Buffer;
      // Cut inside the second file's data (not on an entry boundary).
      const k = Math.floor(whole.length * 0.6) + 7;
      const head = await get(vid, { range: `bytes=0-${k - 1}` }).expect(206);
      expect(head.headers['content-range']).to.equal(`bytes 0-${k - 1}/${whole.length}`);
      expect((head.body as Buffer).length).to.equal(k);
      const rest = await get(vid, { range: `bytes=${k}-`, 'if-range': etag }).expect(206);
      expect(rest.headers['content-range']).to.equal(`bytes ${k}-${whole.length - 1}/${whole.length}`);
      expect(Number(rest.headers['content-length'])).to.equal(whole.length - k);
      expect(sha(Buffer.concat([head.body as Buffer, rest.body as Buffer]))).to.equal(sha(whole));
      // A range in the middle too.
      const mid = await get(vid, { range: 'bytes=1000-1999' }).expect(206);
      expect((mid.body as Buffer).equals(whole.subarray(1000, 2000))).to.equal(true);
    });

    it('a range past the end is 416 with the length; the volume stays exportable', async () => {
      const full = await get(vid).expect(200);
      const length = (full.body as Buffer).length;
      const r = await api.get(`/v3/volumes/${vid}/os-export`).set({ ...auth('alice'), range: `bytes=${length}-` });
      expect(r.status).to.equal(416);
      expect(r.headers['content-range']).to.equal(`bytes */${length}`);
      expect(r.body.rangeNotSatisfiable).to.include({ error_code: 'RANGE_NOT_SATISFIABLE', length });
      // The lease went with the refusal: the next export runs at once.
      await get(vid).expect(200);
    });

    it('suffixes, inverted, several and malformed ranges: the last bytes, or the whole archive; never a 5xx, the volume stays exportable', async () => {
      const whole = (await get(vid).expect(200)).body as Buffer;
      const n = whole.length;
      const tail = await get(vid, { range: 'bytes=-7' }).expect(206);
      expect(tail.headers['content-range']).to.equal(`bytes ${n - 7}-${n - 1}/${n}`);
      expect((tail.body as Buffer).equals(whole.subarray(n - 7))).to.equal(true);
      // A suffix longer than the archive is all of it (RFC 9110 §14.1.3), not a 416.
      const all = await get(vid, { range: `bytes=-${n + 1000}` }).expect(206);
      expect(all.headers['content-range']).to.equal(`bytes 0-${n - 1}/${n}`);
      expect(sha(all.body as Buffer)).to.equal(sha(whole));
      // What the RFC says to ignore is ignored: the whole archive, 200.
      for (const range of ['bytes=9-3', 'bytes=0-0,5-9', 'bytes=abc', 'items=0-5', 'bytes=0--1', 'bytes=1-2,']) {
        const r = await get(vid, { range }).expect(200);
        expect(sha(r.body as Buffer), range).to.equal(sha(whole));
      }
      const zero = await api.get(`/v3/volumes/${vid}/os-export`).set({ ...auth('alice'), range: 'bytes=-0' });
      expect(zero.status).to.equal(416);
      expect(zero.body.rangeNotSatisfiable).to.include({ error_code: 'RANGE_NOT_SATISFIABLE', length: n });
      await get(vid).expect(200);
    });

    it('after a change, If-Range with the old ETag gets the whole new archive; an incremental export offers no ranges', async () => {
      const before = await get(vid).expect(200);
      const old = String(before.headers.etag);
      await writePattern(path.join(share(), await activeOf(vid)), 'qcow2', 0x39, 5 * MiB, MiB);
      const after = await get(vid, { range: 'bytes=100-', 'if-range': old }).expect(200);
      expect(after.headers.etag).to.not.equal(old);
      expect(sha(after.body as Buffer)).to.not.equal(sha(before.body as Buffer));
      expect(Number(after.headers['content-length'])).to.equal((after.body as Buffer).length);
      const inc = await get(vid, { range: 'bytes=0-99' }, { since: snap }).expect(200);
      expect(inc.headers['accept-ranges']).to.equal(undefined);
      expect(Number(inc.headers['content-length'])).to.equal((inc.body as Buffer).length);
    });
  });
}
