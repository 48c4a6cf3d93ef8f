/**
 * An import upload the service refuses before reading the archive (issue 15): the volume is busy
 * (another holder has its lease). The client gets the 409 with its stable code, never a reset
 * under its writes: sent plainly, the body is drained while the answer goes out; sent with
 * `Expect: 100-continue`, the body is never asked for. Nothing on the share changes, and the same
 * upload goes through once the volume is free. Real driver on a local share, SQLite and MariaDB.
 */
import { expect } from 'chai';
import http from 'node:http';
import path from 'node:path';
import type supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { writePattern } from '../../../../lib/qemu/img.js';
import { shareListing } from '../../../fixtures/shares.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { binary } from '../../../fixtures/binary-body.js';

const MiB = 1024 * 1024;

interface Answer { status: number; body: Record<string, { error_code?: string } | undefined>; continued: boolean }

/**
 * POST `archive` on a fresh connection (node's client: `Connection: close`, after which the
 * server closes). With `expectContinue` the body goes only after 100 Continue, as curl and
 * well-behaved clients do. Settles once the connection is closed: a socket error at any time
 * (EPIPE, ECONNRESET under the client's writes, also after the answer arrived) rejects; that is
 * the failure this suite is about.
 */
function upload(url: string, archive: Buffer, expectContinue: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let continued = false;
    let failure: Error | null = null;
    let answer: Answer | null = null;
    const req = http.request(url, {
      method: 'POST', agent: false,
      headers: { ...auth('alice'), 'content-type': 'application/x-tar', 'content-length': String(archive.length), ...(expectContinue ? { expect: '100-continue' } : {}) },
    });
    req.on('error', (err) => { failure ??= err; });
    req.on('continue', () => {
      if (continued || answer) return;
      continued = true;
      req.end(archive);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => { failure ??= err; });
      res.on('end', () => {
        answer = { status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Answer['body'], continued };
        // A refused request whose body was held back is over: nothing more to send.
        if (expectContinue && !continued) req.destroy();
      });
    });
    req.on('close', () => {
      if (failure) reject(failure);
      else if (answer) resolve(answer);
      else reject(new Error('connection closed without an answer'));
    });
    if (!expectContinue) req.end(archive);
  });
}

const codeOf = (a: Answer): string | undefined => Object.values(a.body)[0]?.error_code;

for (const backend of BACKENDS) {
  describe(`api: an import upload refused before its archive is read (${backend.name})`, function () {
    this.timeout(300_000);
    let dir: string;
    let svc: RunningService;
    let api: ReturnType<typeof supertest>;
    remotefsServiceHooks(backend, 'qcs-import-refused-', (s) => ({ dir, svc, http: api } = s));
    const waits = apiWaits(() => api);
    const share = () => path.join(dir, 'share');
    const tree = async (vid: string) => (await api.get(`/v3/volumes/${vid}/tree`).set(auth('admin')).expect(200)).body.tree as { active_file: string; snapshots: { name: string | null }[] };
    const exportOf = async (vid: string, since?: string) => (await api.get(`/v3/volumes/${vid}/os-export`).query(since ? { since } : {}).set(auth('alice')).buffer(true).parse(binary).expect(200)).body as Buffer;

    it('answers 409 VOLUME_BUSY with and without Expect: 100-continue, changes nothing, then imports once free', async () => {
      const r = await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'src' } }).expect(202);
      const src = r.body.volume.id as string;
      await waits.settled('volumes', src, 'available');
      await writePattern(path.join(share(), (await tree(src)).active_file), 'qcow2', 0x31, 0, 6 * MiB);
      const a = await waits.snapshot(src);
      const copy = (await api.post('/v3/os-volume-import').set(auth('alice')).set('content-type', 'application/x-tar').send(await exportOf(src)).expect(201)).body.volume.id as string;
      // Several MiB still in flight when the refusal is answered: more than the socket buffers take.
      await writePattern(path.join(share(), (await tree(src)).active_file), 'qcow2', 0x52, 8 * MiB, 6 * MiB);
      await waits.snapshot(src);
      const inc = await exportOf(src, a);
      expect(inc.length).to.be.greaterThan(6 * MiB);

      const url = `${svc.url}/v3/volumes/${copy}/os-import`;
      const lease = await svc.deps.repos.leases.acquire(copy, 'op:test-holds-the-volume', 300_000);
      const before = await shareListing(share());
      try {
        for (const expectContinue of [false, true]) {
          const answer = await upload(url, inc, expectContinue);
          expect(answer.status, JSON.stringify(answer.body)).to.equal(409);
          expect(codeOf(answer)).to.equal('VOLUME_BUSY');
          // With Expect the archive was never asked for.
          expect(answer.continued).to.equal(false);
        }
        expect(await shareListing(share())).to.deep.equal(before);
      } finally {
        await svc.deps.repos.leases.release(lease);
      }

      const done = await upload(url, inc, true);
      expect(done.status, JSON.stringify(done.body)).to.equal(200);
      expect(done.continued).to.equal(true);
      expect((await tree(copy)).snapshots).to.have.length(2);
    });

    it('a refusal after part of the archive was read (not this source) answers too, with and without Expect', async () => {
      const r = await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'other' } }).expect(202);
      const other = r.body.volume.id as string;
      await waits.settled('volumes', other, 'available');
      await writePattern(path.join(share(), (await tree(other)).active_file), 'qcow2', 0x44, 0, 6 * MiB);
      const archive = await exportOf(other);
      const before = await shareListing(share());
      for (const expectContinue of [false, true]) {
        // Onto the volume it was exported from: it was not imported, so it cannot hold the base.
        const answer = await upload(`${svc.url}/v3/volumes/${other}/os-import`, archive, expectContinue);
        expect(answer.status, JSON.stringify(answer.body)).to.equal(409);
        expect(codeOf(answer)).to.equal('IMPORT_BASE_MISMATCH');
        expect(answer.continued).to.equal(expectContinue);
      }
      expect(await shareListing(share())).to.deep.equal(before);
    });

    it('an import whose body is not an archive (JSON, text, none) is refused at once with 415, holds nothing, changes nothing', async () => {
      const r = await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'not-an-archive' } }).expect(202);
      const vid = r.body.volume.id as string;
      await waits.settled('volumes', vid, 'available');
      const volumes = async () => (await api.get('/v3/volumes/detail?all_tenants=1').set(auth('admin')).expect(200)).body.volumes as unknown[];
      const before = { share: await shareListing(share()), volumes: await volumes() };
      const wrong: string[] = [];
      // The JSON body was read by the JSON parser; reading the stream again for the archive waited
      // forever (the import onto a volume holding its lease). A bounded client time-out turns a
      // hang into a failure here.
      for (const url of ['/v3/os-volume-import', `/v3/volumes/${vid}/os-import`, '/v3/os-instance-import']) {
        for (const [type, body] of [['application/json', '{}'], ['application/json', '{"volume": {}}'], [null, null]] as const) {
          let req = api.post(url).set(auth('admin')).timeout({ response: 60_000 });
          if (type !== null) req = req.set('content-type', type).send(body);
          const a = await req.then((x) => x, (err: { timeout?: number; message: string }) => ({ status: err.timeout ? 'hang' : err.message, body: {} }));
          const code = Object.values(a.body as Record<string, { error_code?: string }>)[0]?.error_code;
          if (a.status !== 415 || code !== 'UNSUPPORTED_MEDIA_TYPE') wrong.push(`${url} ${type} ${body} → ${a.status} ${code}`);
        }
      }
      expect(wrong, wrong.join('\n')).to.deep.equal([]);
      expect({ share: await shareListing(share()), volumes: await volumes() }).to.deep.equal(before);
      // Nothing holds the volume: a snapshot is taken at once.
      await waits.snapshot(vid);
    });
  });
}
