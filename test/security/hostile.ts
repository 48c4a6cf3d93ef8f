/**
 * Malformed requests, malformed by construction: each takes a route of one of the two APIs with
 * valid ids and, where the route reads one, a valid body, and breaks exactly one thing. So any
 * answer below 400 is a wrong accept, whatever the route. What is broken (the "class"):
 * bad-id, bad-percent, raw-control (path bytes Node's client refuses), bad-query, unknown-query,
 * odd-method, body-field (wrong type / traversal / NUL / unicode / out of range in one field),
 * unknown-key, inner-type, top-type, dup-key (the last duplicate is the bad one), not-json, huge,
 * deep, content-type, missing-body, no-token.
 */
import { Prng } from './prng.js';
import { HOST_NAME } from '../../lib/core/compute-host-rules.js';
import type { RawRequest } from './raw-http.js';

/** Strings that must never work as an id (and must not break anything as one). */
export const HOSTILE = [
  '..', '.', '../../etc/passwd', '..\\..\\windows', '/etc/passwd', 'a/b', '%2e%2e', '....//....//', 'volume-x/../../x',
  'a\u0000b', '\u0000', '\u202e\u0041', 'é', '\u{1F4A9}', '\uFEFF', '\uD800', 'x'.repeat(300), "' OR 1=1 --", '"; DROP TABLE volumes; --',
  '${jndi:ldap://x}', '{{7*7}}', '-1', '0', 'null', 'undefined', 'true', '[]', '{}', ' ', '\t', '\r\nX-Injected: 1',
  'json:{"file":"/etc/passwd"}', 'nbd://127.0.0.1/x', 'file:///etc/passwd',
];
const BAD_PERCENT = ['%', '%z', '%zz', '%u002e', '%C0%AE%C0%AE%2F', '%E0%80', '%ff', '%%', '%2', '%G1', '%ed%a0%80', '%c3%28'];
const RAW_CONTROL = ['\u0000', '\t', ' ', '\u007f', '\r', '\n', '\u0001', 'é', '\u{1F4A9}', '\u00ff\u0100'];
const ODD_METHODS = ['PATCH', 'PROPFIND', 'TRACE', 'LOCK', 'MKCOL', 'SEARCH', 'PURGE', 'UNLINK'];
const BAD_TYPES: unknown[] = [5, -1, 1.5, 'x', '', true, [], [1, 2], {}, { a: 1 }];

export type FieldKind = 'uuid' | 'uuid?' | 'size' | 'bytes' | 'name' | 'metadata' | 'enum' | 'file' | 'file?' | 'chain' | 'fencing' | 'opid' | 'mountpoint'
  | 'connector' | 'bool' | 'progress' | 'percent' | 'string' | 'volumes' | 'qlimit' | 'qsort' | 'qproject' | 'long' | 'deleteinfo'
  | 'endpoint' | 'credential' | 'limit';

/** Project ids the service must refuse: not of its id alphabet, or only dots. */
const badProject = (s: string) => !/^[A-Za-z0-9_.@-]{1,64}$/.test(s) || /^\.+$/.test(s);
// "true", "0", "-1"... are valid host names (a registry entry may be called that): not bad ids there.
const badHost = (s: string) => !HOST_NAME.test(s);

const U = '11111111-2222-4333-8444-555555555555';
/** Bad values per kind of field: none of them is valid for that kind (null only where not nullable). */
function badValues(kind: FieldKind): unknown[] {
  const strs = HOSTILE;
  switch (kind) {
    case 'uuid': return [...strs, null, 5, [], {}, `${U}\u0000`, `${U}.info`, ` ${U}`, `${U}/..`, U.replace(/-/g, '')];
    case 'uuid?': return [...strs, 5, [], {}, `${U}\u0000`, `${U}.info`];
    case 'size': return ['1', 1.5, 0, -1, 1e308, 2 ** 53, 1025, [], {}, true, null, 'NaN', '1e3'];
    case 'name': return [7, [], {}, true, 'x'.repeat(256), ['a']];
    case 'metadata': return [[], 'x', 5, { k: 5 }, { '': 'v' }, { ['k'.repeat(256)]: 'v' }, Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])), { k: null }];
    case 'enum': return ['bogus', '', 5, [], {}, ' available', 'AVAILABLE\u0000'];
    case 'file': return ['../../etc/passwd', '/etc/passwd', 'volume-x', `volume-${U}/../x`, `volume-${U}.info`, `../volume-${U}`, 'json:{}', 'nbd://h/x', `volume-${U}\u0000`, 5, null, []];
    case 'file?': return ['../../etc/passwd', '/etc/passwd', 'volume-x', `volume-${U}/../x`, `../volume-${U}`, 'json:{}', 5, []];
    case 'fencing': return [-1, 1.5, '1', null, 2 ** 60, [], {}];
    case 'opid': return ['', 'x'.repeat(65), 5, null, [], {}];
    case 'mountpoint': return ['', 'x'.repeat(256), 5, null, [], {}];
    case 'connector': return [{}, { host: '' }, { host: 5 }, { host: 'h', big: 'x'.repeat(5000) }, 'h', [], 5, null];
    case 'bool': return ['maybe', 2, [], {}, 'yes', ''];
    case 'progress': return [-1, 101, '50', null, [], 1e308];
    case 'percent': return ['101%', '5', '-1%', 5, '50 %', '05%'];
    case 'string': return [5, [], {}, null, true];
    case 'volumes': return [[], ['not-a-uuid'], [U, '../x'], 'some', 5, Array.from({ length: 65 }, () => U)];
    case 'bytes': return ['1', 1.5, 0, -1, 1e308, 2 ** 54, [], {}, true, null];
    case 'chain': return [[], ['../x'], [`volume-${U}`, '/etc/passwd'], 'x', 5, null, Array.from({ length: 201 }, () => `volume-${U}`)];
    case 'qlimit': return ['0', '-1', '1001', 'abc', '1.5', '', '1e3', ' 1', '0x10', '99999999999'];
    case 'qsort': return ['name:sideways', 'bogus', 'a,b,c,d,e', 'x'.repeat(201), 'name:asc;drop', ''];
    case 'qproject': return HOSTILE.filter(badProject);
    case 'long': return ['x'.repeat(300)];
    // A caller never chooses where a credential goes: no userinfo, no other scheme, no query.
    case 'endpoint': return ['', 'ftp://h/', 'file:///etc/passwd', 'http://u:p@h/', 'http://h/?x=1', 'http://h/#f', 'javascript:alert(1)', 'x'.repeat(300), 5, null, []];
    // A quota limit: -1 (unlimited) and up are valid.
    case 'limit': return [-2, 1.5, '1', null, [], {}, true, 2 ** 31, 1e308];
    case 'credential': return ['', 'short', 'x'.repeat(256), 'with space inside it!', 'c\u0000'.repeat(10), 5, null, []];
    case 'deleteinfo': return ['{nope', '{}', '[]', 'null', JSON.stringify({ type: 'qcow2', file_to_merge: '../../etc/passwd', merge_target_file: null, volume_id: U }),
      JSON.stringify({ type: 'raw', file_to_merge: null, merge_target_file: null, volume_id: U }), JSON.stringify({ type: 'qcow2', file_to_merge: null, merge_target_file: null, volume_id: '..' })];
  }
}

export interface BodyShape {
  /** A valid body. */
  body: unknown;
  /** Fields that can be broken, by their path in the body. */
  fields: { path: string[]; kind: FieldKind }[];
  /** Whether the level below the top (the object under the one key) is strict. */
  innerStrict: boolean;
}

export interface FuzzRoute {
  api: 'storage' | 'coordinator';
  method: string;
  /** Path with :params. */
  template: string;
  /** Valid values of the path's params. */
  params: Record<string, string>;
  /** Known query keys (for bad-query); strictQuery = unknown keys are refused. */
  query: Record<string, FieldKind>;
  strictQuery: boolean;
  /** A valid query string every request carries unless the query is what is broken. */
  baseQuery?: string;
  /** Bodies the route reads (one is picked); empty = the route reads no body. */
  bodies: BodyShape[];
  /** The route accepts no body at all as valid. */
  bodyOptional?: boolean;
  /** Headers of an authorized caller (several: one is picked). */
  auth: Record<string, string>[];
  /** No authentication on this route (no-token is then not malformed). */
  open?: boolean;
}

export interface Generated extends RawRequest {
  api: FuzzRoute['api'];
  cls: string;
  route: string;
}

function setPath(body: unknown, p: string[], value: unknown): unknown {
  const copy = structuredClone(body) as Record<string, unknown>;
  let o = copy;
  for (const k of p.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[p[p.length - 1] as string] = value;
  return copy;
}

/** encodeURIComponent, except that a lone surrogate (which it refuses) goes as its WTF-8 bytes. */
function enc(v: string): string {
  try {
    return encodeURIComponent(v);
  } catch {
    return v.split('').map((ch) => { try { return encodeURIComponent(ch); } catch { return '%ED%A0%80'; } }).join('');
  }
}

function fillPath(r: FuzzRoute, override?: { name: string; raw: string }): string {
  return r.template.replace(/:([A-Za-z_]+)/g, (_, n: string) => (override?.name === n ? override.raw : enc(r.params[n] ?? 'x')));
}

function deep(n: number): string {
  return `${'['.repeat(n)}${']'.repeat(n)}`;
}

const JSON_TYPE = { 'content-type': 'application/json' };

export function generate(rng: Prng, r: FuzzRoute): Generated {
  const shape = r.bodies.length > 0 ? rng.pick(r.bodies) : undefined;
  const headers = { ...rng.pick(r.auth) };
  const params = Object.keys(r.params);
  const classes = [
    ...(params.length > 0 ? ['bad-id', 'bad-id', 'bad-percent', 'raw-control'] : ['raw-control']),
    ...(Object.keys(r.query).length > 0 ? ['bad-query', 'bad-query'] : []),
    ...(r.strictQuery ? ['unknown-query'] : []),
    'odd-method',
    ...(shape ? ['body-field', 'body-field', 'body-field', 'unknown-key', 'inner-type', 'top-type', 'dup-key', 'not-json', 'huge', 'deep', 'content-type'] : []),
    ...(shape && !r.bodyOptional ? ['missing-body'] : []),
    ...(r.open ? [] : ['no-token']),
  ];
  const cls = rng.pick(classes);
  let method = r.method.toUpperCase();
  let path = fillPath(r);
  let query = r.baseQuery ?? '';
  let body: string | undefined = shape ? JSON.stringify(shape.body) : undefined;
  let type: Record<string, string> = shape ? JSON_TYPE : {};
  switch (cls) {
    case 'bad-id': {
      const name = rng.pick(params);
      const pool = name === 'project_id' || name === 'tenant_id' ? HOSTILE.filter(badProject) : name === 'host_name' ? HOSTILE.filter(badHost) : HOSTILE;
      path = fillPath(r, { name, raw: enc(rng.pick(pool)) });
      break;
    }
    case 'bad-percent': {
      const name = rng.pick(params);
      const valid = encodeURIComponent(r.params[name] ?? '');
      path = fillPath(r, { name, raw: rng.pick([rng.pick(BAD_PERCENT), `${valid}${rng.pick(BAD_PERCENT)}`, `${rng.pick(BAD_PERCENT)}${valid}`]) });
      break;
    }
    case 'raw-control': {
      const name = params.length > 0 ? rng.pick(params) : undefined;
      const bad = rng.pick(RAW_CONTROL);
      // Always followed by more path: a trailing space or tab is dropped by the HTTP parser,
      // which leaves a valid request.
      path = name ? fillPath(r, { name, raw: `${encodeURIComponent(r.params[name] ?? '')}${bad}x` }) : `${path}${bad}x`;
      break;
    }
    case 'bad-query': {
      const [k, kind] = rng.pick(Object.entries(r.query));
      const v = rng.pick(badValues(kind));
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      // Free-text keys (names, statuses) take any string, so only length and repetition break them.
      const freeText = kind === 'long';
      query = rng.pick([
        `${k}=${enc(text)}`, `${k}=${enc(text)}&${k}=${enc(text)}`, `${k}[a]=1`,
        ...(freeText ? [] : [`${k}=${rng.pick(BAD_PERCENT)}`, `${k}=%00`]),
      ]);
      break;
    }
    case 'unknown-query':
      query = (r.baseQuery ? `${r.baseQuery}&` : '') + rng.pick(['bogus=1', '__proto__=1', 'constructor=x', '%zz=1', 'a[b][c]=1', `${'k'.repeat(300)}=1`]);
      break;
    case 'odd-method':
      method = rng.pick(ODD_METHODS);
      break;
    case 'body-field': {
      const s = shape as BodyShape;
      if (s.fields.length === 0) {
        body = JSON.stringify(setPath(s.body, [Object.keys(s.body as object)[0] as string], rng.pick(BAD_TYPES.filter((x) => typeof x !== 'object' || Array.isArray(x)))));
        break;
      }
      const f = rng.pick(s.fields);
      body = JSON.stringify(setPath(s.body, f.path, rng.pick(badValues(f.kind))));
      break;
    }
    case 'unknown-key': {
      const s = shape as BodyShape;
      const top = Object.keys(s.body as object)[0] as string;
      const inner = (s.body as Record<string, unknown>)[top];
      const extra = rng.pick<unknown>(['x', 1, null, { a: 1 }, HOSTILE]);
      const k = rng.pick(['__fuzz', 'bogus', 'constructor', 'Volume', `${top} `]);
      body = s.innerStrict && inner !== null && typeof inner === 'object' && !Array.isArray(inner) && rng.chance(0.5)
        ? JSON.stringify(setPath(s.body, [top, k], extra))
        : JSON.stringify({ ...(s.body as object), [k]: extra });
      break;
    }
    case 'inner-type': {
      const s = shape as BodyShape;
      const top = Object.keys(s.body as object)[0] as string;
      body = JSON.stringify({ ...(s.body as object), [top]: rng.pick([5, [], true, [s.body], -0.5]) });
      break;
    }
    case 'top-type':
      body = rng.pick(['[]', '5', '"x"', 'true', `[${JSON.stringify(shape?.body)}]`, ...(r.bodyOptional ? [] : ['null'])]);
      break;
    case 'dup-key': {
      const s = shape as BodyShape;
      const top = Object.keys(s.body as object)[0] as string;
      body = `{${JSON.stringify(top)}: ${JSON.stringify((s.body as Record<string, unknown>)[top])}, ${JSON.stringify(top)}: ${JSON.stringify(rng.pick([5, [], true]))}}`;
      break;
    }
    case 'not-json':
      body = rng.pick([
        (body as string).slice(0, Math.max(1, rng.int((body as string).length))), '{', '{"a":}', "{'volume': {}}", '\u0000', 'nul\u0000l',
        '{"a":1}}', '{"a": 01}', '{"a": NaN}', '{"a": undefined}', '\uD800', `${body as string}x`, '<xml/>',
      ]);
      break;
    case 'huge':
      body = JSON.stringify({ ...(shape?.body as object), pad: 'x'.repeat(rng.pick([70_000, 200_000, 1_100_000])) });
      break;
    case 'deep':
      body = `{"__fuzz": ${deep(rng.pick([200, 2000, 20_000]))}, ${(body as string).slice(1)}`;
      break;
    case 'content-type':
      type = rng.pick<Record<string, string>>([{ 'content-type': 'text/plain' }, { 'content-type': 'application/xml' }, { 'content-type': 'application/x-www-form-urlencoded' },
        { 'content-type': 'multipart/form-data; boundary=x' }, { 'content-type': 'application/json; charset=utf-16' }, { 'content-type': 'application/json-patch+json' }, {}]);
      break;
    case 'missing-body':
      body = undefined;
      type = rng.chance(0.5) ? JSON_TYPE : {};
      break;
    case 'no-token':
      for (const k of Object.keys(headers)) delete headers[k];
      if (rng.chance(0.5)) headers['x-auth-token'] = rng.pick(['garbage', '', 'tok-admin-x', 'TOK-ADMIN', 'a'.repeat(5000), 'tok-admin\u00e9']);
      break;
  }
  if (headers['x-auth-token'] === '') delete headers['x-auth-token'];
  return {
    api: r.api, cls, route: `${r.method.toUpperCase()} ${r.template}`, method,
    path: query ? `${path}?${query}` : path, headers: { ...headers, ...type },
    body: body === undefined ? undefined : Buffer.from(body, cls === 'not-json' ? 'latin1' : 'utf8'),
  };
}
