/**
 * Volume and snapshot metadata sub-resources (Cinder's shapes) on both databases: merge, replace,
 * one key, the item limit counted after the change, If-Match, another project's resource; then
 * the stock `cinder` CLI's metadata commands (noauth) against the same routes.
 */
import { expect } from 'chai';
import { run } from '../../../../lib/core/process.js';
import { BACKENDS, auth, eventually, testServiceHooks } from '../../../fixtures/api/harness.js';
import { createSnapshot, createVolume } from '../../../fixtures/api/helpers.js';

/** Errors come in Cinder's shape: `{ "<fault>": { message, code, error_code } }`. */
const codeOf = (body: Record<string, { error_code?: string }>) => Object.values(body)[0]?.error_code;

for (const backend of BACKENDS) {
  describe(`api: metadata sub-resources (${backend.name})`, function () {
    this.timeout(120_000);
    const t = testServiceHooks(backend);
    const get = async (url: string) => (await t.http.get(url).set(auth('alice'))).body.metadata as Record<string, string>;

    for (const kind of ['volume', 'snapshot'] as const) {
      let base = '';
      before(async () => {
        const vid = await createVolume(t, 'alice', { metadata: { seed: '1' } });
        base = kind === 'volume' ? `/v3/volumes/${vid}` : `/v3/snapshots/${await createSnapshot(t, vid)}`;
        if (kind === 'snapshot') expect((await t.http.post(`${base}/metadata`).set(auth('alice')).send({ metadata: { seed: '1' } })).status).to.equal(200);
      });

      it(`${kind}: merges, replaces, sets, shows and deletes one key`, async () => {
        const merged = await t.http.post(`${base}/metadata`).set(auth('alice')).send({ metadata: { a: '1', b: 'x' } });
        expect(merged.status, merged.text).to.equal(200);
        expect(merged.body.metadata).to.deep.equal({ seed: '1', a: '1', b: 'x' });
        const one = await t.http.get(`${base}/metadata/a`).set(auth('alice'));
        expect(one.status).to.equal(200);
        expect(one.body).to.deep.equal({ meta: { a: '1' } });
        const set = await t.http.put(`${base}/metadata/a`).set(auth('alice')).send({ meta: { a: 'two' } });
        expect(set.body).to.deep.equal({ meta: { a: 'two' } });
        expect((await t.http.delete(`${base}/metadata/b`).set(auth('alice'))).status).to.equal(200);
        expect(await get(`${base}/metadata`)).to.deep.equal({ seed: '1', a: 'two' });
        // The resource itself shows the same items.
        expect((await t.http.get(base).set(auth('alice'))).body[kind].metadata).to.deep.equal({ seed: '1', a: 'two' });
        const replaced = await t.http.put(`${base}/metadata`).set(auth('alice')).send({ metadata: { only: 'this' } });
        expect(replaced.body.metadata).to.deep.equal({ only: 'this' });
        expect(await get(`${base}/metadata`)).to.deep.equal({ only: 'this' });
      });

      it(`${kind}: refuses bad requests with a stable code and changes nothing`, async () => {
        await t.http.put(`${base}/metadata`).set(auth('alice')).send({ metadata: { keep: 'me' } });
        const refused: [string, Promise<{ status: number; body: Record<string, { error_code?: string }> }>][] = [
          ['METADATA_KEY_NOT_FOUND', t.http.get(`${base}/metadata/nope`).set(auth('alice'))],
          ['METADATA_KEY_NOT_FOUND', t.http.delete(`${base}/metadata/nope`).set(auth('alice'))],
          ['INVALID_INPUT', t.http.put(`${base}/metadata/a`).set(auth('alice')).send({ meta: { b: '1' } })],
          ['INVALID_INPUT', t.http.put(`${base}/metadata/a`).set(auth('alice')).send({ meta: { a: '1', b: '2' } })],
          ['INVALID_INPUT', t.http.post(`${base}/metadata`).set(auth('alice')).send({ metadata: { a: 5 } })],
          ['INVALID_INPUT', t.http.post(`${base}/metadata`).set(auth('alice')).send({ metadata: { ['k'.repeat(256)]: 'v' } })],
          ['INVALID_INPUT', t.http.post(`${base}/metadata`).set(auth('alice')).send({ metadata: { a: 'v'.repeat(256) } })],
          ['INVALID_INPUT', t.http.put(`${base}/metadata/${'k'.repeat(256)}`).set(auth('alice')).send({ meta: { ['k'.repeat(256)]: 'v' } })],
          [`${kind.toUpperCase()}_NOT_FOUND`, t.http.post(`${base}/metadata`).set(auth('bob')).send({ metadata: { a: '1' } })],
          [`${kind.toUpperCase()}_NOT_FOUND`, t.http.get(`${base}/metadata`).set(auth('bob'))],
        ];
        for (const [code, p] of refused) {
          const r = await p;
          expect(codeOf(r.body), `${code}: ${JSON.stringify(r.body)}`).to.equal(code);
        }
        // 64 items is the limit of the set after a merge, not of the request.
        const sixtyThree = Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`k${i}`, 'v']));
        expect((await t.http.post(`${base}/metadata`).set(auth('alice')).send({ metadata: sixtyThree })).status).to.equal(200);
        const over = await t.http.post(`${base}/metadata`).set(auth('alice')).send({ metadata: { one: 'more' } });
        expect(over.status).to.equal(400);
        expect(codeOf(over.body)).to.equal('INVALID_INPUT');
        expect(JSON.stringify(over.body)).to.match(/65 metadata items; at most 64/);
        expect(await get(`${base}/metadata`)).to.deep.equal({ keep: 'me', ...sixtyThree });
      });

      // 64 items of 255 three-byte characters per key and value are within the API's limits; as
      // JSON they are ~98 KB, beyond a TEXT column (MariaDB refused the row: a 500).
      it(`${kind}: the most the limits allow (64 items of 255 three-byte characters, two merges under the body limit) is stored and returned exactly`, async () => {
        const half = (h: number) => Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`${h}-${i}`.padEnd(255, '€'), '€'.repeat(255)]));
        await t.http.put(`${base}/metadata`).set(auth('alice')).send({ metadata: {} }).expect(200);
        for (const h of [0, 1]) {
          const r = await t.http.post(`${base}/metadata`).set(auth('alice')).send({ metadata: half(h) });
          expect(r.status, JSON.stringify(r.body).slice(0, 300)).to.equal(200);
        }
        expect(await get(`${base}/metadata`)).to.deep.equal({ ...half(0), ...half(1) });
        await t.http.put(`${base}/metadata`).set(auth('alice')).send({ metadata: {} }).expect(200);
      });

      it(`${kind}: If-Match of a stale ETag is refused (412) and writes nothing; the current one is accepted`, async () => {
        await t.http.put(`${base}/metadata`).set(auth('alice')).send({ metadata: { a: '1' } });
        const read = await t.http.get(`${base}/metadata`).set(auth('alice'));
        const etag = read.headers.etag as string;
        expect(etag).to.match(/^"[0-9a-f]{32}"$/);
        await t.http.post(`${base}/metadata`).set(auth('alice')).send({ metadata: { b: '2' } });
        const stale = await t.http.put(`${base}/metadata`).set(auth('alice')).set('If-Match', etag).send({ metadata: {} });
        expect(stale.status).to.equal(412);
        expect(codeOf(stale.body)).to.equal('METADATA_CHANGED');
        const now = await t.http.get(`${base}/metadata`).set(auth('alice'));
        expect(now.body.metadata).to.deep.equal({ a: '1', b: '2' });
        const fresh = await t.http.put(`${base}/metadata`).set(auth('alice')).set('If-Match', now.headers.etag as string).send({ metadata: { b: '2' } });
        expect(fresh.status, fresh.text).to.equal(200);
        expect(await get(`${base}/metadata`)).to.deep.equal({ b: '2' });
      });

      // MariaDB: the row lock of the read keeps merges from losing items; SQLite: the process's
      // transactions take turns (db/transaction.ts) and the write lock is taken at BEGIN.
      it(`${kind}: concurrent merges of different keys all land (read, merge and write are one transaction)`, async () => {
        await t.http.put(`${base}/metadata`).set(auth('alice')).send({ metadata: {} });
        const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => t.http.post(`${base}/metadata`).set(auth('alice')).send({ metadata: { [`c${i}`]: String(i) } })));
        expect(rs.map((r) => r.status)).to.deep.equal(Array(12).fill(200));
        expect(await get(`${base}/metadata`)).to.deep.equal(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`c${i}`, String(i)])));
      });
    }
  });

  describe(`api: metadata with the real cinder CLI (noauth, ${backend.name})`, function () {
    this.timeout(300_000);
    const user = `u${Date.now()}`;
    const project = `p${Date.now()}`;
    const t = testServiceHooks(backend, { auth: 'noauth' });
    const cinder = async (...args: string[]): Promise<string> =>
      (await run('cinder', ['--os-auth-type', 'noauth', '--os-user-id', user, '--os-project-id', project, '--os-endpoint', `${t.svc.url}/v3`, ...args], { timeoutMs: 60_000 })).stdout;
    const field = (out: string, name: string) => new RegExp(`^\\|\\s*${name}\\s*\\|\\s*(\\S+)`, 'm').exec(out)?.[1];
    const until = (args: string[], id: string) =>
      eventually(async () => ((await cinder(...args)).split('\n').some((l) => l.includes(id) && l.includes(' available ')) ? true : undefined), 60_000);

    it('metadata set/unset, metadata-update-all and snapshot-metadata set/unset', async () => {
      const vid = field(await cinder('create', '1', '--name', 'meta-vol'), 'id') as string;
      await until(['list'], vid);
      const vurl = `/v3/${project}/volumes/${vid}/metadata`;
      // noauth: the token names user and project.
      const noauth = { 'X-Auth-Token': `${user}:${project}` };
      const read = async (url: string) => (await t.http.get(url).set(noauth)).body.metadata as Record<string, string>;

      await cinder('metadata', vid, 'set', 'a=1', 'b=2', 'c=3');
      expect(await read(vurl)).to.deep.equal({ a: '1', b: '2', c: '3' });
      await cinder('metadata', vid, 'unset', 'a');
      expect(await read(vurl)).to.deep.equal({ b: '2', c: '3' });
      // At 3.15+ the client reads the set with its ETag and writes it back with If-Match.
      await cinder('--os-volume-api-version', '3.15', 'metadata', vid, 'unset', 'b');
      expect(await read(vurl)).to.deep.equal({ c: '3' });
      const all = await cinder('metadata-update-all', vid, 'x=9', 'y=8');
      expect(all).to.match(/\|\s*x\s*\|\s*9\s*\|/);
      expect(await read(vurl)).to.deep.equal({ x: '9', y: '8' });

      const sid = field(await cinder('snapshot-create', '--name', 'meta-snap', vid), 'id') as string;
      await until(['snapshot-list'], sid);
      const surl = `/v3/${project}/snapshots/${sid}/metadata`;
      await cinder('snapshot-metadata', sid, 'set', 'p=1', 'q=2');
      expect(await read(surl)).to.deep.equal({ p: '1', q: '2' });
      await cinder('snapshot-metadata', sid, 'unset', 'p');
      expect(await read(surl)).to.deep.equal({ q: '2' });
      const shown = await cinder('snapshot-metadata-show', sid);
      expect(shown).to.match(/\|\s*q\s*\|\s*2\s*\|/);
    });
  });
}
