/**
 * Random requests (fast-check) over every storage route of test/fixtures/security/routes.ts (real
 * RemoteFS driver on a local share, SQLite and MariaDB): a route's valid body with random values
 * at random fields (other types, huge and negative numbers, unicode, prototype names, deep and
 * long values, extra keys), random query strings and random headers (microversions, Range,
 * If-Match, content types and encodings, request ids, tokens). Unlike hostile-requests.test.ts a
 * request may be valid and do what it asks; whatever it is, the answer is never a 500, and every
 * error answer carries a stable code (a code of lib/core/errors.ts, not INTERNAL, with its status).
 *
 * CI: a fixed seed and a bounded count; a long hunt:
 *   QCS_RANDOM_REQUESTS=20000 QCS_RANDOM_SEED=7 npx mocha --timeout 0 <this file> -g sqlite
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type http from 'node:http';
import supertest from 'supertest';
import { ERROR_CODES } from '../../lib/core/errors.js';
import { routeTable } from '../../src/api/app.js';
import { BACKENDS, eventually, type TestDb } from '../fixtures/api/harness.js';
import type { FuzzRoute } from '../fixtures/security/hostile.js';
import { keepAliveAgent, send, type RawRequest } from '../fixtures/security/raw-http.js';
import { storageRoutes } from '../fixtures/security/routes.js';
import { scrapeCredentialHooks } from '../fixtures/api/scrape-credential.js';
import { OWN, startStack, tokenOf, type SecurityStack, type Who } from '../fixtures/security/stack.js';

const CONCURRENCY = 8;

function settings(): { seed: number; requests: number } {
  const seed = Number(process.env.QCS_RANDOM_SEED ?? 20261207);
  const requests = Number(process.env.QCS_RANDOM_REQUESTS ?? 1500);
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(requests) || requests < 1) throw new Error('QCS_RANDOM_SEED and QCS_RANDOM_REQUESTS must be integers (requests >= 1)');
  return { seed, requests };
}

const PROTO = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];

/** A value of any kind, weighted towards what breaks servers. */
const wild: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(-1, -0, 0, 1, 1.5, -(2 ** 31), 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, -1e308, Number.MIN_VALUE, 1024, 1025, 65536),
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom(...PROTO, '', ' ', '\u0000', '\uD800', '\u202e', '../../etc/passwd', 'x'.repeat(70_000), '€'.repeat(300), '1e3', 'NaN', 'null', 'true'),
  fc.constantFrom<unknown>(null, true, false, [], {}, [[[]]], { __proto__x: 1 }, JSON.parse('{"__proto__": {"admin": true}}')),
);

function setAt(body: unknown, p: string[], value: unknown): unknown {
  const copy = structuredClone(body) as Record<string, unknown>;
  let o: Record<string, unknown> = copy;
  for (const k of p.slice(0, -1)) {
    if (o[k] === null || typeof o[k] !== 'object') o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[p[p.length - 1] as string] = value;
  return copy;
}

/** The body of a route: its valid body with 1-3 fields (known or new, at any level) set to wild values, or a wild value. */
function body(r: FuzzRoute): fc.Arbitrary<string | undefined> {
  if (r.bodies.length === 0) return fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)));
  const shape = fc.constantFrom(...r.bodies);
  const edit = fc.record({
    shape,
    edits: fc.array(fc.tuple(fc.nat(20), fc.oneof(fc.constantFrom(...PROTO), fc.string({ maxLength: 12 })), wild), { minLength: 1, maxLength: 3 }),
  }).map(({ shape: s, edits }) => {
    let b = s.body;
    for (const [i, extra, value] of edits) {
      const known = s.fields.map((f) => f.path);
      const top = Object.keys(s.body as object)[0] ?? 'x';
      const p = i < known.length * 3 ? known[i % Math.max(1, known.length)] ?? [top, extra] : i % 2 === 0 ? [top, extra] : [extra];
      b = setAt(b, p, value);
    }
    return JSON.stringify(b);
  });
  return fc.oneof({ weight: 6, arbitrary: edit }, { weight: 1, arbitrary: wild.map((v) => JSON.stringify(v) ?? 'null') }, { weight: 1, arbitrary: fc.constant(undefined) });
}

function query(r: FuzzRoute): fc.Arbitrary<string> {
  const key = fc.oneof(fc.constantFrom(...Object.keys(r.query), ...PROTO, 'limit', 'marker', 'offset', 'sort', 'all_tenants', 'cascade', 'force'), fc.string({ maxLength: 10 }));
  const value = fc.oneof(wild.map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '')), fc.constantFrom('-1', '0', '99999999999999999999', '1.5', 'true', '%zz', '[]'));
  return fc.array(fc.tuple(key, value, fc.boolean()), { maxLength: 4 }).map((pairs) => pairs.map(([k, v, brackets]) => `${encodeURIComponent(k)}${brackets ? '[a]' : ''}=${encodeURIComponent(v.replace(/[\uD800-\uDFFF]/g, 'x'))}`).join('&'));
}

const headerValues: Record<string, fc.Arbitrary<string>> = {
  'openstack-api-version': fc.oneof(fc.constantFrom('volume 3.0', 'volume 3.70', 'volume 3.71', 'volume 99.99', 'volume latest', 'volume -1.0', 'volume 3.', 'compute 2.1', 'volume 3.27, volume 3.0', ''),
    fc.string({ maxLength: 30 }).map((s) => `volume ${s}`)),
  'x-openstack-nova-api-version': fc.constantFrom('2.1', '3.0', 'latest'),
  range: fc.constantFrom('bytes=0-0', 'bytes=-1', 'bytes=99999999999999999999-', 'bytes=5-1', 'bytes=0-1,2-3', 'bytes=a-b', 'items=0-1', 'bytes=-0', 'bytes=0-'),
  'if-match': fc.oneof(fc.constantFrom('*', '""', 'W/"x"', '"x", "y"'), fc.string({ maxLength: 40 })),
  accept: fc.constantFrom('application/json', 'application/xml', '*/*', 'text/html', '', 'application/x-tar'),
  'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'text/plain', 'application/x-tar', 'multipart/form-data', ''),
  'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown'),
  'x-openstack-request-id': fc.oneof(fc.constantFrom('req-00000000-0000-0000-0000-000000000000', '', 'x'.repeat(500)), fc.string({ maxLength: 60 })),
  'x-project-id': fc.constantFrom(OWN, 'p-other', '..', ''),
  'x-auth-token': fc.constantFrom(...(['admin', 'member', 'reader', 'service', 'other'] as Who[]).map((w) => tokenOf(w)['x-auth-token'] as string), 'garbage'),
  'accept-language': fc.constantFrom('en', 'zz', '*', '\u00e9'),
};

/** Header values a client can send (a header carries latin1 bytes; CR and LF would end it). */
const headerSafe = (v: string) => [...v].map((ch) => (ch === '\r' || ch === '\n' || ch === '\u0000' ? ' ' : ch.charCodeAt(0) > 0xff ? '?' : ch)).join('');

function request(routes: FuzzRoute[]): fc.Arbitrary<RawRequest & { route: string }> {
  return fc.constantFrom(...routes).chain((r) => fc.record({
    body: body(r),
    query: query(r),
    // A few headers per request (each can refuse the request alone: a content encoding, an Accept).
    headers: fc.subarray(Object.keys(headerValues), { maxLength: 3 }).chain((keys) => fc.tuple(...keys.map((k) => (headerValues[k] as fc.Arbitrary<string>).map((v) => [k, v] as const)))),
    method: fc.oneof({ weight: 9, arbitrary: fc.constant(r.method.toUpperCase()) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH') }),
  }).map(({ body: b, query: q, headers, method }) => {
    const p = r.template.replace(/:([A-Za-z_]+)/g, (_, n: string) => encodeURIComponent(r.params[n] ?? 'x'));
    const json = b !== undefined ? { 'content-type': 'application/json' } : {};
    const h = Object.fromEntries(headers.map(([k, v]) => [k, headerSafe(v)]).filter(([, v]) => v !== ''));
    return { route: `${r.method.toUpperCase()} ${r.template}`, method, path: q ? `${p}?${q}` : p, headers: { ...json, ...r.auth[0], ...h }, ...(b !== undefined ? { body: Buffer.from(b) } : {}) };
  }));
}

/** What is wrong with an answer: a 500 (or another 5xx without a stable code), or an error without a stable code. */
function problem(status: number, text: string, method: string): string | null {
  if (status === 0) return null; // the server closed a connection it would not read (a refused upload)
  if (status < 400) return null;
  if (status === 500) return 'a 500';
  if (method === 'HEAD') return status >= 500 ? `a ${status}` : null; // no body to read
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `an error answer that is not JSON: ${JSON.stringify(text.slice(0, 200))}`;
  }
  const fault = Object.values((parsed ?? {}) as Record<string, { error_code?: string; code?: number }>)[0];
  const code = fault?.error_code;
  if (code === undefined || !(code in ERROR_CODES) || code === 'INTERNAL') return `an error answer without a stable code: ${text.slice(0, 200)}`;
  if (ERROR_CODES[code as keyof typeof ERROR_CODES].http !== status && status < 500) return null; // router and body-parser statuses map to their own codes
  return status >= 500 && status !== 501 && status !== 503 ? `a ${status} (${code})` : null;
}

for (const backend of BACKENDS) {
  describe(`security: random requests over every storage route (${backend.name})`, function () {
    this.timeout(0);
    const { seed, requests } = settings();
    let db: TestDb;
    let s: SecurityStack;
    let agent: http.Agent;
    // The metrics closed by a scrape credential, as in production (routes.ts: /metrics is not open).
    const scrape = scrapeCredentialHooks();

    before(async () => {
      db = await backend.create();
      s = await startStack(db, 'remotefs', { metricsTokenFile: scrape.file });
      agent = keepAliveAgent();
    });
    after(async () => {
      agent?.destroy();
      await s?.stop();
      await db?.cleanup();
    });

    it(`answers ${requests} random requests (seed ${seed}) without a 500, every error with a stable code`, async () => {
      const api = supertest.agent(s.svc.url);
      const made = async (url: string, b: object, kind: 'volume' | 'snapshot') => {
        const r = await api.post(url).set(tokenOf('member')).send(b);
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
        const id = r.body[kind].id as string;
        await eventually(async () => ((await api.get(`/v3/${kind}s/${id}`).set(tokenOf('admin'))).body[kind]?.status === 'available' ? true : undefined), 60_000);
        return { id, op: String(r.headers['x-operation-id']) };
      };
      const vol = await made('/v3/volumes', { volume: { size: 1, name: 'target' } }, 'volume');
      const snap = await made('/v3/snapshots', { snapshot: { volume_id: vol.id, name: 'target' } }, 'snapshot');
      const auths = (['admin', 'member'] as Who[]).map(tokenOf);
      const routes = storageRoutes(routeTable(s.svc.deps), { volume: vol.id, snapshot: snap.id, operation: vol.op, project: OWN }, auths);
      const samples = fc.sample(request(routes), { numRuns: requests, seed });
      const port = Number(new URL(s.svc.url).port);
      const wrong: string[] = [];
      const statuses = new Map<number, number>();
      for (let i = 0; i < samples.length; i += CONCURRENCY) {
        await Promise.all(samples.slice(i, i + CONCURRENCY).map(async (r) => {
          const describe = `[${r.route}] ${r.method} ${JSON.stringify(r.path.slice(0, 200))} headers=${JSON.stringify(r.headers).slice(0, 300)} body=${JSON.stringify(r.body?.toString().slice(0, 200))}`;
          // An answer the client cannot parse (data after "Connection: close", ...) is a finding too, named with its request.
          const a = await send(port, agent, r, 1 << 20).catch((e: unknown) => {
            wrong.push(`no answer a client can read (${(e as Error).message}): ${describe}`);
            return { status: 0, body: '' };
          });
          statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
          const p = problem(a.status, a.body, r.method);
          if (p !== null) wrong.push(`${p}: ${describe}`);
        }));
      }
      console.log(`      seed ${seed}: ${samples.length} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}`);
      expect(wrong, wrong.slice(0, 10).join('\n')).to.deep.equal([]);
      // The requests reach validation and the handlers, not only the router.
      expect((statuses.get(200) ?? 0) + (statuses.get(202) ?? 0)).to.be.greaterThan(0);
      expect(statuses.get(400) ?? 0).to.be.greaterThan(requests / 20);
    });
  });
}
