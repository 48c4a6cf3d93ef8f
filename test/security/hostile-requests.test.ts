/**
 * Seeded hostile requests against every route of both APIs: the storage service (real RemoteFS
 * driver on a local-directory share, on SQLite and on MariaDB) and the coordinator (fake libvirt,
 * as the coordinator's unit tests run it). Every request is malformed by construction
 * (hostile.ts), so the only right answers are 4xx: a 5xx, an answer below 400 ("wrong accept") or
 * any change of the database rows, the share (names, sizes, modes, hashes) or the coordinator's
 * jobs, libvirt calls and state directory fails the suite. Figures are printed at the end.
 *
 * QCS_FUZZ_SEED and QCS_FUZZ_REQUESTS (per database, across both APIs) override the CI defaults.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { routeTable } from '../../src/api/app.js';
import { parseServiceConfig } from '../../src/api/service-config.js';
import { shareListing } from '../fixtures/shares.js';
import { BACKENDS, eventually, type TestDb } from '../fixtures/api/harness.js';
import { DIR, DOM, S1, S2, S3, VOL, f, harness, headers, silent, type Harness } from '../fixtures/coordinator/context.js';
import { generate, type Generated } from '../fixtures/security/hostile.js';
import { fuzzSettings, Prng } from '../fixtures/security/prng.js';
import { keepAliveAgent, send } from '../fixtures/security/raw-http.js';
import { coordinatorRoutes, recordRoutes, storageRoutes } from '../fixtures/security/routes.js';
import { scrapeCredentialHooks } from '../fixtures/api/scrape-credential.js';
import { fingerprint, OWN, startStack, tokenOf, type SecurityStack, type Who } from '../fixtures/security/stack.js';

const COORDINATOR_TOKEN = 'coordinator-token-for-hostile-requests';
const CONCURRENCY = 16;

interface Figures { tried: number; fiveXx: number; wrongAccepts: number; closed: number; changed: number; statuses: Map<number, number>; classes: Map<string, number> }

function newFigures(): Figures {
  return { tried: 0, fiveXx: 0, wrongAccepts: 0, closed: 0, changed: 0, statuses: new Map(), classes: new Map() };
}

function describeRequest(g: Generated): string {
  const body = g.body ? ` body=${JSON.stringify(g.body.toString('utf8').slice(0, 120))}` : '';
  return `[${g.api} ${g.cls}] ${g.method} ${JSON.stringify(g.path.slice(0, 160))}${body}`;
}

/** The share listing; a file that vanishes while listed is a change the next comparison reports. */
async function listing(dir: string): Promise<string[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await shareListing(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 20) throw err;
    }
  }
}

for (const backend of BACKENDS) {
  describe(`security: hostile requests against both APIs (${backend.name})`, function () {
    this.timeout(600_000);
    const { seed, requests } = fuzzSettings();
    let db: TestDb;
    let s: SecurityStack;
    let stateDir: string;
    let h: Harness;
    let coordinator: RunningCoordinator;
    let agent: http.Agent;
    let coordinatorServes: string[];
    let savedEnv: string | undefined;
    // The metrics closed by a scrape credential, as in production (routes.ts: /metrics is not open).
    const scrape = scrapeCredentialHooks();

    before(async () => {
      db = await backend.create();
      s = await startStack(db, 'remotefs', { metricsTokenFile: scrape.file });
      stateDir = await mkdtemp(path.join(tmpdir(), 'qcs-sec-coord-'));
      h = harness([{ target: 'vdb', serial: VOL, dir: DIR, chain: [f(S2), f(S1), f()] }]);
      const config = parseServiceConfig({
        log: { level: 'silent' },
        coordinator: { port: 0, serviceToken: COORDINATOR_TOKEN, stateDir, pollIntervalMs: 10, libvirtUri: 'test:///default', metadataApi: 'http://127.0.0.1:9' },
        storage: { mountBase: path.join(stateDir, 'mnt') },
      });
      const inspect = headers({ [`${DIR}/${f(S3)}`]: { format: 'qcow2', backingFile: f(S2), backingFormat: 'qcow2', externalDataFile: false } });
      // express's final handler prints the stack of every error it answers unless env is "test".
      savedEnv = process.env.NODE_ENV;
      process.env.NODE_ENV = 'test';
      const recorded = await recordRoutes(() => startCoordinator(config, { port: h.libvirt, metadata: h.metadata, log: silent, inspect }));
      coordinator = recorded.built;
      coordinatorServes = recorded.routes();
      agent = keepAliveAgent();
    });
    after(async () => {
      agent?.destroy();
      await coordinator?.stop();
      await s?.stop();
      await db?.cleanup();
      if (stateDir) await rm(stateDir, { recursive: true, force: true });
      if (savedEnv === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = savedEnv;
    });

    it('covers every route the coordinator serves', () => {
      const listed = coordinatorRoutes({ dom: DOM, vol: VOL, snap: S3, file: f }, COORDINATOR_TOKEN)
        .map((r) => `${r.method.toUpperCase()} ${r.template.replace('/v2.1/p1/', '/v2.1/:projectId/').replace(/:(snapshotId|id|uuid|volumeId)\b/g, ':$1')}`);
      // The hand list is checked against what the app really routes, so a new route must be added to it.
      const served = coordinatorServes;
      expect(served.length, 'routes found in the app').to.be.greaterThan(15);
      expect(served.filter((p) => !listed.includes(p)), 'coordinator routes missing from the hostile suite').to.deep.equal([]);
    });

    it('refuses a body it cannot read instead of snapshotting with the defaults (coordinator)', async () => {
      const r = await supertest(coordinator.url).post(`/v1/instances/${DOM}/snapshots`).set('x-auth-token', COORDINATOR_TOKEN)
        .set('content-type', 'text/plain').send(JSON.stringify({ volumes: [VOL], quiesce: 'off' }));
      expect(r.status, r.text).to.equal(415);
      expect(r.body.error.code).to.equal('UNSUPPORTED_MEDIA_TYPE');
      expect(coordinator.engine.list()).to.deep.equal([]);
      expect(h.libvirt.calls).to.deep.equal([]);
    });

    it('stores a hostile name exactly or refuses it with 400, on volumes and snapshots, and no file changes', async () => {
      const http = supertest.agent(s.svc.url);
      const v = await http.post('/v3/volumes').set(tokenOf('member')).send({ volume: { size: 1, name: 'plain' } });
      expect(v.status, JSON.stringify(v.body)).to.equal(202);
      const vid = v.body.volume.id as string;
      await eventually(async () => ((await http.get(`/v3/volumes/${vid}`).set(tokenOf('member'))).body.volume?.status === 'available' ? true : undefined), 60_000);
      const sn = await http.post('/v3/snapshots').set(tokenOf('member')).send({ snapshot: { volume_id: vid, name: 'plain' } });
      expect(sn.status, JSON.stringify(sn.body)).to.equal(202);
      const sid = sn.body.snapshot.id as string;
      await eventually(async () => ((await http.get(`/v3/snapshots/${sid}`).set(tokenOf('member'))).body.snapshot?.status === 'available' ? true : undefined), 60_000);
      const share = await listing(s.shareDir as string);
      const wrong: string[] = [];
      for (const name of ['a\u0000b', '\u0000', '../../etc/passwd', 'volume-x/../../x', '\u202eevil', '\u{1F4A9}', "'; DROP TABLE volumes; --", 'x\r\ny', '\u0001\u001f\u007f', 'é'.repeat(255)]) {
        for (const [kind, id] of [['volume', vid], ['snapshot', sid]] as const) {
          const put = await http.put(`/v3/${kind}s/${id}`).set(tokenOf('member')).send({ [kind]: { name } });
          const shown = await http.get(`/v3/${kind}s/${id}`).set(tokenOf('member'));
          const exact = put.status === 200 && shown.body[kind]?.name === name;
          const refused = put.status === 400 && put.body?.badRequest?.error_code !== undefined && shown.body[kind]?.name === 'plain';
          if (!exact && !refused) wrong.push(`${kind} name ${JSON.stringify(name)} → ${put.status} ${JSON.stringify(put.body).slice(0, 200)}; shown ${JSON.stringify(shown.body[kind]?.name)}`);
          await http.put(`/v3/${kind}s/${id}`).set(tokenOf('member')).send({ [kind]: { name: 'plain' } });
        }
      }
      expect(wrong, wrong.join('\n')).to.deep.equal([]);
      expect(await listing(s.shareDir as string)).to.deep.equal(share);
    });

    it('takes the names of Object.prototype members as plain names: never a 5xx, never a member found', async () => {
      const http = supertest.agent(s.svc.url);
      const v = await http.post('/v3/volumes').set(tokenOf('member')).send({ volume: { size: 1, name: 'proto-keys' } });
      expect(v.status, JSON.stringify(v.body)).to.equal(202);
      const vid = v.body.volume.id as string;
      await eventually(async () => ((await http.get(`/v3/volumes/${vid}`).set(tokenOf('member'))).body.volume?.status === 'available' ? true : undefined), 60_000);
      // A member's own metadata keys: the whole deployment's summary must still answer.
      const put = await http.put(`/v3/volumes/${vid}/metadata`).set(tokenOf('member')).send({ metadata: { constructor: 'c', toString: 't' } });
      expect(put.status, JSON.stringify(put.body)).to.equal(200);
      const v336 = { 'openstack-api-version': 'volume 3.36' };
      const summary = await http.get('/v3/volumes/summary?all_tenants=1').set({ ...tokenOf('admin'), ...v336 });
      expect(summary.status, JSON.stringify(summary.body)).to.equal(200);
      expect(summary.body['volume-summary'].metadata.constructor).to.deep.equal(['c']);
      // "__proto__" is refused with a stable code, and the set is left as it was.
      const before = await fingerprint(s.svc);
      for (const [url, body] of [[`/v3/volumes/${vid}/metadata`, '{"metadata": {"__proto__": "x"}}'], [`/v3/volumes/${vid}/metadata/__proto__`, '{"meta": {"__proto__": "x"}}'],
        [`/v3/volumes/${vid}`, '{"volume": {"metadata": {"__proto__": "x"}}}']] as const) {
        const r = await http.put(url).set({ ...tokenOf('member'), 'content-type': 'application/json' }).send(body);
        expect(r.status, `${url} ${JSON.stringify(r.body)}`).to.equal(400);
        expect(r.body.badRequest.error_code).to.equal('INVALID_INPUT');
      }
      expect(await fingerprint(s.svc)).to.equal(before);
      const types = await http.get('/v3/types').set(tokenOf('admin'));
      const tid = types.body.volume_types[0].id as string;
      const probes: [string, number, string][] = [];
      for (const k of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
        probes.push([`/v3/volumes?sort_key=${k}`, 400, 'INVALID_INPUT'], [`/v3/snapshots?sort=name,${k.toLowerCase()}:asc`, 400, 'INVALID_INPUT'],
          [`/v3/${k}`, 404, 'NOT_FOUND'], [`/v3/${OWN}/${k}`, 404, 'NOT_FOUND'], [`/v3/types/${tid}/extra_specs/${k}`, 404, 'NOT_FOUND']);
      }
      const wrong: string[] = [];
      for (const [url, status, code] of probes) {
        const r = await http.get(url).set(tokenOf('admin'));
        const got = Object.values(r.body as Record<string, { error_code?: string }>)[0]?.error_code;
        if (r.status !== status || got !== code) wrong.push(`${url} → ${r.status} ${got} (want ${status} ${code})`);
      }
      for (const k of ['constructor', '__proto__', 'toString']) {
        const r = await http.get(`/console/static/${k}`);
        if (r.status !== 404) wrong.push(`/console/static/${k} → ${r.status}`);
      }
      expect(wrong, wrong.join('\n')).to.deep.equal([]);
      expect(await fingerprint(s.svc)).to.equal(before);
    });

    it(`answers ${requests} malformed requests (seed ${seed}) with 4xx only and changes nothing`, async () => {
      const http = supertest.agent(s.svc.url);
      const made = async (who: Who, url: string, body: object, kind: 'volume' | 'snapshot') => {
        const r = await http.post(url).set(tokenOf(who)).send(body);
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
        const id = r.body[kind].id as string;
        await eventually(async () => ((await http.get(`/v3/${kind}s/${id}`).set(tokenOf('admin'))).body[kind]?.status === 'available' ? true : undefined), 60_000);
        return { id, op: String(r.headers['x-operation-id']) };
      };
      const vol = await made('member', '/v3/volumes', { volume: { size: 1, name: 'target' } }, 'volume');
      const snap = await made('member', '/v3/snapshots', { snapshot: { volume_id: vol.id, name: 'target' } }, 'snapshot');
      await made('other', '/v3/volumes', { volume: { size: 1, name: 'bystander' } }, 'volume');

      const storageAuth = (['admin', 'member', 'reader', 'service', 'other'] as Who[]).map(tokenOf);
      const routes = [
        ...storageRoutes(routeTable(s.svc.deps), { volume: vol.id, snapshot: snap.id, operation: vol.op, project: OWN }, storageAuth),
        ...coordinatorRoutes({ dom: DOM, vol: VOL, snap: S3, file: f }, COORDINATOR_TOKEN),
      ];
      const storagePort = Number(new URL(s.svc.url).port);
      const coordinatorPort = Number(new URL(coordinator.url).port);
      const shareDir = s.shareDir as string;

      const coordinatorState = async () => JSON.stringify({
        jobs: coordinator.engine.list(), libvirt: h.libvirt.calls, disks: h.libvirt.disks, metadata: h.metadata.calls, dir: await listing(stateDir),
      });
      const state = async () => `${await fingerprint(s.svc)}\n${(await listing(shareDir)).join('\n')}\n${await coordinatorState()}`;
      const before = await state();

      const rng = new Prng(seed);
      const all: Generated[] = Array.from({ length: requests }, () => generate(rng, rng.pick(routes)));
      const figures = { storage: newFigures(), coordinator: newFigures() };
      const failures: string[] = [];
      const changedBy: string[] = [];
      let baseline = before;
      const started = Date.now();
      for (let i = 0; i < all.length; i += CONCURRENCY) {
        const batch = all.slice(i, i + CONCURRENCY);
        await Promise.all(batch.map(async (g) => {
          const a = await send(g.api === 'storage' ? storagePort : coordinatorPort, agent, g);
          const fig = figures[g.api];
          fig.tried++;
          fig.statuses.set(a.status, (fig.statuses.get(a.status) ?? 0) + 1);
          fig.classes.set(g.cls, (fig.classes.get(g.cls) ?? 0) + 1);
          if (a.status === 0) fig.closed++;
          else if (a.status >= 500) {
            fig.fiveXx++;
            failures.push(`5xx ${a.status}: ${describeRequest(g)} → ${a.body.slice(0, 200)}`);
          } else if (a.status < 400) {
            fig.wrongAccepts++;
            failures.push(`wrong accept ${a.status}: ${describeRequest(g)} → ${a.body.slice(0, 200)}`);
          }
        }));
        // Cheap check after every batch (rows and coordinator state), the share's hashes every 50 batches and at the end.
        if ((i / CONCURRENCY) % 50 === 49 || i + CONCURRENCY >= all.length) {
          const now = await state();
          if (now !== baseline) {
            const was = baseline.split('\n');
            const is = now.split('\n');
            changedBy.push(`  before: ${was.filter((x) => !is.includes(x)).join(' ').slice(0, 400)}\n  after: ${is.filter((x) => !was.includes(x)).join(' ').slice(0, 400)}`);
            for (const g of batch) figures[g.api].changed++;
            changedBy.push(`state changed in requests ${i - 49 * CONCURRENCY}..${i + batch.length - 1}; last batch: ${batch.map(describeRequest).join(' | ').slice(0, 600)}`);
            baseline = now;
          }
        } else if (await fingerprint(s.svc) !== baseline.slice(0, baseline.indexOf('\n'))) {
          for (const g of batch) figures[g.api].changed++;
          changedBy.push(`database changed by one of: ${batch.map(describeRequest).join(' | ').slice(0, 1200)}`);
          baseline = await state();
        }
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      for (const [api, fig] of Object.entries(figures)) {
        const statuses = [...fig.statuses.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(' ');
        console.log(`      ${backend.name} ${api}: tried ${fig.tried}, 5xx ${fig.fiveXx}, wrong accepts ${fig.wrongAccepts}, changed state ${fig.changed}, closed without answer ${fig.closed}`);
        console.log(`        statuses ${statuses}`);
        console.log(`        classes ${[...fig.classes.entries()].sort().map(([k, v]) => `${k}:${v}`).join(' ')}`);
      }
      console.log(`      ${backend.name}: ${all.length} requests in ${seconds} s (seed ${seed})`);
      // 5xx grouped by the answer's message (one cause gives hundreds), then every wrong accept.
      const causes = new Map<string, { n: number; example: string }>();
      for (const f of failures.filter((x) => x.startsWith('5xx'))) {
        const cause = (/"message":"([^"]{0,50})/.exec(f)?.[1] ?? f.slice(0, 60)).replace(/'.*$/, '');
        const c = causes.get(cause) ?? { n: 0, example: f };
        c.n++;
        causes.set(cause, c);
      }
      for (const [cause, c] of causes) console.log(`        ${c.n} x 5xx "${cause}", e.g. ${c.example.slice(0, 300)}`);
      for (const line of [...failures.filter((x) => !x.startsWith('5xx')).slice(0, 60), ...changedBy.slice(0, 10)]) console.log(`        ${line.slice(0, 400)}`);

      // The generator must reach every route of both APIs and every class of breakage.
      const used = new Set(all.map((g) => g.route));
      expect(routes.filter((r) => !used.has(`${r.method.toUpperCase()} ${r.template}`)).map((r) => r.template), 'routes never tried').to.deep.equal([]);
      expect(figures.storage.tried + figures.coordinator.tried).to.equal(requests);
      expect(failures, failures.slice(0, 10).join('\n')).to.deep.equal([]);
      expect(changedBy, changedBy.join('\n')).to.deep.equal([]);
      expect(await state()).to.equal(before);
    });
  });
}
