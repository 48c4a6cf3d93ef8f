/**
 * The authorization matrix, generated from the route table and the action schemas: every route
 * (both path forms) and every action × admin/member/reader/service/no-role/no-token × own/other
 * project, against the policy table. A route or action without a policy rule or without a probe
 * below fails the first test, so a new route cannot land uncovered.
 *
 * Each cell sends one request whose outcome depends only on authorization:
 * - a caller the policy refuses sends a VALID request and must get 401/403 (or 404 for another
 *   project's resource it must not see) with nothing changed;
 * - a caller the policy admits sends a read (expects 200) or a request with INVALID arguments
 *   (expects 400), which proves it passed authorization without changing anything.
 * So the database must be identical after every single request.
 */
import { expect } from 'chai';
import supertest from 'supertest';
import { scrapeCredentialHooks } from '../fixtures/api/scrape-credential.js';
import { routeTable } from '../../src/api/app.js';
import { startService, type RunningService } from '../../src/api/server.js';
import { parseServiceConfig } from '../../src/api/service-config.js';
import { FakeDriver } from '../fixtures/fake-driver.js';
import { allows, POLICY, SNAPSHOT_ACTION_POLICY, VOLUME_ACTION_POLICY, type Caller, type PolicyName, type Role } from '../../src/api/policy.js';
import { expressPaths, type RouteDef } from '../../src/api/routes/route.js';
import { snapshotActions, volumeActions } from '../../src/api/validation/actions.js';
import { BACKENDS, eventually, type TestDb } from '../fixtures/api/harness.js';
import { fingerprint, OTHER, OWN, startStack, tokenOf, type SecurityStack, type Who } from '../fixtures/security/stack.js';

interface Ids { volume: string; snapshot: string; operation: string; project: string }
interface Sent { query?: Record<string, string>; body?: unknown }
interface Probe {
  valid(ids: Ids): Sent;
  /** Must fail validation (400) once authorized. Absent for reads: they are simply sent valid. */
  invalid?(ids: Ids): Sent;
  /** Project-less form, other project: "lookup" = the id names the other project's resource (404); "list" = all_tenants. */
  foreign: 'lookup' | 'list' | 'none';
}

const key = (r: { method: string; path: string }) => `${r.method.toUpperCase()} ${r.path}`;
const bogusQuery = { invalid: () => ({ query: { bogus_key: '1' } }) };
/** The {key} of the metadata item routes (no resource has it, so a refused DELETE could not have removed anything anyway). */
const METADATA_KEY = 'matrix-key';

/** A manage request naming a share the service does not have: refused callers send it, nothing is adopted. */
const MANAGE_BODY = { volume: { host: 'no-such-share', ref: { 'source-name': 'volume-0b5c3f44-6a51-4c7e-9d2b-7f6e5d4c3b2b' } } };

const ROUTE_PROBES: Record<string, Probe> = {
  'GET /volumes': { valid: () => ({}), foreign: 'list' },
  'GET /volumes/detail': { valid: () => ({}), foreign: 'list' },
  'POST /volumes': { valid: () => ({ body: { volume: { size: 1 } } }), invalid: () => ({ body: { volume: { size: 1, bogus: 1 } } }), foreign: 'none' },
  'GET /volumes/:volume_id': { valid: () => ({}), foreign: 'lookup' },
  'PUT /volumes/:volume_id': { valid: () => ({ body: { volume: { name: 'changed' } } }), invalid: () => ({ body: { volume: { name: 7 } } }), foreign: 'lookup' },
  'GET /volumes/:volume_id/tree': { valid: () => ({}), foreign: 'lookup' },
  'DELETE /volumes/:volume_id': { valid: () => ({}), ...bogusQuery, foreign: 'lookup' },
  'GET /snapshots': { valid: () => ({}), foreign: 'list' },
  'GET /snapshots/detail': { valid: () => ({}), foreign: 'list' },
  'POST /snapshots': { valid: (i) => ({ body: { snapshot: { volume_id: i.volume } } }), invalid: (i) => ({ body: { snapshot: { volume_id: i.volume, force: 3 } } }), foreign: 'lookup' },
  'GET /snapshots/:snapshot_id': { valid: () => ({}), foreign: 'lookup' },
  'PUT /snapshots/:snapshot_id': { valid: () => ({ body: { snapshot: { name: 'changed' } } }), invalid: () => ({ body: { snapshot: {} } }), foreign: 'lookup' },
  'DELETE /snapshots/:snapshot_id': { valid: () => ({}), ...bogusQuery, foreign: 'lookup' },
  'GET /snapshots/:snapshot_id/delete-preview': { valid: () => ({}), foreign: 'lookup' },
  'GET /operations': { valid: () => ({}), foreign: 'list' },
  'GET /operations/:operation_id': { valid: () => ({}), foreign: 'lookup' },
  'POST /os-check': { valid: () => ({ body: { check: { repair: false } } }), invalid: () => ({ body: { check: { bogus: 1 } } }), foreign: 'none' },
  'POST /volumes/:volume_id/os-check': { valid: () => ({ body: { check: { repair: false } } }), invalid: () => ({ body: { check: { bogus: 1 } } }), foreign: 'none' },
  'GET /os-compute-hosts': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'GET /os-compute-hosts/:host_name': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'PUT /os-compute-hosts/:host_name': {
    valid: () => ({ body: { compute_host: { coordinator_endpoint: 'http://127.0.0.1:1/', credential: 'c'.repeat(32) } } }),
    invalid: () => ({ body: { compute_host: { coordinator_endpoint: 'http://127.0.0.1:1/' } } }), foreign: 'none',
  },
  'DELETE /os-compute-hosts/:host_name': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'GET /manageable_volumes': { valid: () => ({}), foreign: 'none' },
  'GET /manageable_volumes/detail': { valid: () => ({}), foreign: 'none' },
  'POST /manageable_volumes': { valid: () => ({ body: MANAGE_BODY }), invalid: () => ({ body: { volume: { ...MANAGE_BODY.volume, bogus: 1 } } }), foreign: 'none' },
  'GET /os-volume-manage': { valid: () => ({}), foreign: 'none' },
  'GET /os-volume-manage/detail': { valid: () => ({}), foreign: 'none' },
  'POST /os-volume-manage': { valid: () => ({ body: MANAGE_BODY }), invalid: () => ({ body: { volume: { ...MANAGE_BODY.volume, bogus: 1 } } }), foreign: 'none' },
  // Checkpoints: admitted callers send what fails validation (nothing is sent to a host); show and list are plain reads.
  'POST /os-checkpoints': { valid: () => ({ body: { checkpoint: { instance_uuid: OP } } }), invalid: () => ({ body: { checkpoint: { instance_uuid: OP, bogus: 1 } } }), foreign: 'none' },
  'GET /os-checkpoints': { valid: () => ({}), foreign: 'list' },
  'GET /os-checkpoints/:checkpoint_id': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'DELETE /os-checkpoints/:checkpoint_id': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'POST /os-checkpoints/:checkpoint_id/action': { valid: () => ({ body: { revert: {} } }), invalid: () => ({ body: { revert: { paused: 3 } } }), foreign: 'none' },
  // Export and import: admitted callers send a query that fails validation (nothing is read or streamed).
  'GET /volumes/:volume_id/os-export': { valid: () => ({}), ...bogusQuery, foreign: 'lookup' },
  'POST /os-volume-import': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'GET /os-instances/:instance_uuid/os-export': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'POST /os-instance-import': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'POST /os-instances/:instance_uuid/action': { valid: () => ({ body: { 'os-define': { host: 'no-such-host' } } }), invalid: () => ({ body: { 'os-define': { host: 'h', bogus: 1 } } }), foreign: 'none' },
  'POST /volumes/:volume_id/os-import': { valid: () => ({}), ...bogusQuery, foreign: 'lookup' },
  'POST /os-volume-import-from-share': { valid: () => ({ body: { import: { share: 's', file: 'x.tar' } } }), invalid: () => ({ body: { import: { share: 's', file: 'x.tar', bogus: 1 } } }), foreign: 'none' },
  // Metadata sub-resources: admitted callers send an item of the wrong type or an unknown query key.
  ...metadataProbes('/volumes/:volume_id'),
  ...metadataProbes('/snapshots/:snapshot_id'),
  'GET /os-availability-zone': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'GET /scheduler-stats/get_pools': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'GET /os-services': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'GET /volumes/summary': { valid: () => ({}), foreign: 'list' },
  // User messages: the list is a plain read; show and delete name no message, so admitted callers send an unknown query key.
  'GET /messages': { valid: () => ({}), foreign: 'list' },
  'GET /messages/:message_id': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'DELETE /messages/:message_id': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  // Volume types (the path's type is the default one) and quotas (the path's tenant is the scope's project).
  'GET /types': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'GET /types/default': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'GET /types/:type_id': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'POST /types': { valid: () => ({ body: { volume_type: { name: 'matrix-type' } } }), invalid: () => ({ body: { volume_type: { name: 'matrix-type', bogus: 1 } } }), foreign: 'none' },
  'DELETE /types/:type_id': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'PUT /types/:type_id': { valid: () => ({ body: { volume_type: { description: 'matrix' } } }), invalid: () => ({ body: { volume_type: { bogus: 1 } } }), foreign: 'none' },
  'GET /types/:type_id/os-volume-type-access': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'POST /types/:type_id/action': { valid: () => ({ body: { addProjectAccess: { project: 'p-matrix' } } }), invalid: () => ({ body: { addProjectAccess: { project: 'p-matrix', bogus: 1 } } }), foreign: 'none' },
  'GET /types/:type_id/extra_specs': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'POST /types/:type_id/extra_specs': { valid: () => ({ body: { extra_specs: { 'qcowshare:format': 'raw' } } }), invalid: () => ({ body: { extra_specs: {} } }), foreign: 'none' },
  'GET /types/:type_id/extra_specs/:key': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'PUT /types/:type_id/extra_specs/:key': { valid: () => ({ body: { [METADATA_KEY]: 'x' } }), invalid: () => ({ body: {} }), foreign: 'none' },
  'DELETE /types/:type_id/extra_specs/:key': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'GET /os-quota-sets/:tenant_id': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'GET /os-quota-sets/:tenant_id/defaults': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'PUT /os-quota-sets/:tenant_id': { valid: () => ({ body: { quota_set: { volumes: 1 } } }), invalid: () => ({ body: { quota_set: { volumes: -2 } } }), foreign: 'none' },
  'DELETE /os-quota-sets/:tenant_id': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'GET /limits': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  // Attachments (sent at the advertised microversion): admitted callers send a body or query that fails validation.
  'POST /attachments': {
    valid: (i) => ({ body: { attachment: { volume_uuid: i.volume, instance_uuid: OP } } }),
    invalid: (i) => ({ body: { attachment: { volume_uuid: i.volume, instance_uuid: OP, bogus: 1 } } }), foreign: 'none',
  },
  'GET /attachments': { valid: () => ({}), foreign: 'list' },
  'GET /attachments/detail': { valid: () => ({}), foreign: 'list' },
  'GET /attachments/:attachment_id': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
  'PUT /attachments/:attachment_id': { valid: () => ({ body: { attachment: { connector: { host: 'matrix-host' } } } }), invalid: () => ({ body: { attachment: { connector: {} } } }), foreign: 'none' },
  'POST /attachments/:attachment_id/action': { valid: () => ({ body: { 'os-complete': null } }), invalid: () => ({ body: { 'os-complete': { bogus: 1 } } }), foreign: 'none' },
  'DELETE /attachments/:attachment_id': { valid: () => ({}), ...bogusQuery, foreign: 'none' },
};

function metadataProbes(base: string): Record<string, Probe> {
  const set = { valid: () => ({ body: { metadata: { matrix: 'x' } } }), invalid: () => ({ body: { metadata: { matrix: 7 } } }), foreign: 'lookup' as const };
  return {
    [`GET ${base}/metadata`]: { valid: () => ({}), ...bogusQuery, foreign: 'lookup' },
    [`POST ${base}/metadata`]: set,
    [`PUT ${base}/metadata`]: set,
    [`GET ${base}/metadata/:key`]: { valid: () => ({}), ...bogusQuery, foreign: 'lookup' },
    [`PUT ${base}/metadata/:key`]: { valid: () => ({ body: { meta: { [METADATA_KEY]: 'x' } } }), invalid: () => ({ body: { meta: {} } }), foreign: 'lookup' },
    [`DELETE ${base}/metadata/:key`]: { valid: () => ({}), ...bogusQuery, foreign: 'lookup' },
  };
}

const OP = '0b5c3f44-6a51-4c7e-9d2b-7f6e5d4c3b2a';
/** Valid arguments per action (sent by refused callers) and invalid ones (sent by admitted callers). */
const VOLUME_ACTION_ARGS: Record<string, { valid: (i: Ids) => unknown; invalid: unknown }> = {
  'os-extend': { valid: () => ({ new_size: 2 }), invalid: { new_size: 2, bogus: 1 } },
  'os-reset_status': { valid: () => ({ status: 'error' }), invalid: { status: 'bogus' } },
  'os-force_delete': { valid: () => ({}), invalid: { bogus: 1 } },
  'os-initialize_connection': { valid: () => ({ connector: { host: 'h1' } }), invalid: { connector: {} } },
  'os-terminate_connection': { valid: () => ({ connector: { host: 'h1' } }), invalid: { connector: {} } },
  'os-attach': { valid: () => ({ mountpoint: '/dev/vdb' }), invalid: { mountpoint: '' } },
  'os-detach': { valid: () => ({}), invalid: { attachment_id: 'x' } },
  'os-reserve': { valid: () => ({}), invalid: { bogus: 1 } },
  'os-unreserve': { valid: () => ({}), invalid: { bogus: 1 } },
  'os-begin_detaching': { valid: () => ({}), invalid: { bogus: 1 } },
  'os-roll_detaching': { valid: () => ({}), invalid: { bogus: 1 } },
  revert: { valid: (i) => ({ snapshot_id: i.snapshot }), invalid: { snapshot_id: '../x' } },
  'os-revert_to_snapshot': { valid: (i) => ({ snapshot_id: i.snapshot }), invalid: { snapshot_id: '../x' } },
  'os-create_snapshot_metadata': { valid: () => ({}), invalid: { bogus: 1 } },
  'os-unmanage': { valid: () => ({}), invalid: { bogus: 1 } },
  'os-export-to-share': { valid: () => ({ share: 's', name: 'x.tar' }), invalid: { share: 's', name: 'x.tar', bogus: 1 } },
};
const SNAPSHOT_ACTION_ARGS: Record<string, { valid: (i: Ids) => unknown; invalid: unknown }> = {
  'os-reset_status': { valid: () => ({ status: 'error' }), invalid: { status: 'bogus' } },
  'os-force_delete': { valid: () => ({}), invalid: { bogus: 1 } },
  'os-update_snapshot_status': { valid: () => ({ status: 'error' }), invalid: { status: 'bogus' } },
  'os-request_commit': { valid: () => ({ operation_id: OP, fencing_token: 1 }), invalid: { operation_id: OP } },
  'os-finalize_snapshot_metadata': { valid: () => ({ operation_id: OP, fencing_token: 1, status: 'error' }), invalid: { operation_id: OP } },
  'os-delete_snapshot_metadata': { valid: () => ({}), invalid: { bogus: 1 } },
};

const WHO: Who[] = ['admin', 'member', 'reader', 'service', 'badtoken', 'none'];
const ROLES_OF: Record<Who, Role[]> = { admin: ['admin'], member: ['member'], reader: ['reader'], service: ['service'], other: ['member'], badtoken: [], none: [] };

const CODES: Record<number, RegExp> = { 400: /^INVALID_INPUT$/, 401: /^UNAUTHORIZED$/, 403: /^FORBIDDEN$/, 404: /^(VOLUME|SNAPSHOT|OPERATION)_NOT_FOUND$/ };

interface Cell { label: string; method: RouteDef['method']; path: string; sent: Sent; expect: number }

function callerOf(who: Who): Caller | undefined {
  return who === 'none' || who === 'badtoken' ? undefined : { userId: who, projectId: OWN, roles: new Set(ROLES_OF[who]) };
}

/** Every cell of the matrix with its expected status. */
function cells(routes: RouteDef[], own: Ids, other: Ids): Cell[] {
  const out: Cell[] = [];
  for (const r of routes.filter((x) => x.versioned)) {
    const actions = r.path === '/volumes/:volume_id/action'
      ? Object.keys(VOLUME_ACTION_POLICY).map((a) => ({ name: a, rule: VOLUME_ACTION_POLICY[a as keyof typeof VOLUME_ACTION_POLICY], args: VOLUME_ACTION_ARGS[a] }))
      : r.path === '/snapshots/:snapshot_id/action'
        ? Object.keys(SNAPSHOT_ACTION_POLICY).map((a) => ({ name: a, rule: SNAPSHOT_ACTION_POLICY[a as keyof typeof SNAPSHOT_ACTION_POLICY], args: SNAPSHOT_ACTION_ARGS[a] }))
        : [null];
    for (const action of actions) {
      const probe: Probe = action
        ? { valid: (i) => ({ body: { [action.name]: action.args?.valid(i) } }), invalid: () => ({ body: { [action.name]: action.args?.invalid } }), foreign: 'lookup' }
        : ROUTE_PROBES[key(r)] as Probe;
      const rules: PolicyName[] = action ? [r.policy, action.rule] : [r.policy];
      for (const [variant, template] of expressPaths(r).entries()) {
        for (const scope of ['own', 'other'] as const) {
          for (const who of WHO) {
            const caller = callerOf(who);
            const ids = scope === 'own' ? own : other;
            const path = template.replace(':project_id', ids.project).replace(':volume_id', ids.volume)
              .replace(':snapshot_id', ids.snapshot).replace(':operation_id', ids.operation).replace(':host_name', 'matrix-host')
              .replace(':checkpoint_id', OP).replace(':instance_uuid', OP).replace(':message_id', OP).replace(':attachment_id', OP).replace(':key', METADATA_KEY)
              .replace(':type_id', '__DEFAULT__').replace(':tenant_id', ids.project);
            const label = `${who} ${scope} ${r.method.toUpperCase()} ${path}${action ? ` ${action.name}` : ''}`;
            const admitted = caller !== undefined && rules.every((p) => allows(caller, p));
            const crossProject = allows(caller, 'qcowshare:cross_project');
            let expectStatus: number;
            let sent = probe.valid(ids);
            if (!caller) expectStatus = 401;
            else if (!admitted) expectStatus = 403;
            else if (scope === 'other' && !crossProject && variant === 1) expectStatus = 403;
            else if (scope === 'other' && !crossProject && probe.foreign === 'lookup') expectStatus = 404;
            else if (scope === 'other' && !crossProject && probe.foreign === 'list') {
              expectStatus = 403;
              sent = { query: { all_tenants: 'true' } };
            } else if (probe.invalid) {
              expectStatus = 400;
              sent = probe.invalid(ids);
            } else {
              expectStatus = 200;
              if (scope === 'other' && probe.foreign === 'list') sent = { query: { all_tenants: 'true' } };
            }
            out.push({ label, method: r.method, path, sent, expect: expectStatus });
          }
        }
      }
    }
  }
  return out;
}

for (const backend of BACKENDS) {
  describe(`security: authorization matrix from the route table (${backend.name})`, function () {
    this.timeout(300_000);
    let db: TestDb;
    let s: SecurityStack;
    let http: ReturnType<typeof supertest>;
    let own: Ids;
    let other: Ids;
    // The metrics closed by a scrape credential (without one they are open to anyone: readiness.test.ts).
    const scrape = scrapeCredentialHooks();

    async function made(who: Who, url: string, body: unknown, kind: 'volume' | 'snapshot'): Promise<{ id: string; op: string }> {
      const r = await http.post(url).set(tokenOf(who)).send(body as object);
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      const id = r.body[kind].id as string;
      await eventually(async () => {
        const g = await http.get(`/v3/${kind}s/${id}`).set(tokenOf('admin'));
        return g.body[kind]?.status === 'available' ? true : undefined;
      });
      return { id, op: String(r.headers['x-operation-id']) };
    }

    async function resources(who: Who, project: string): Promise<Ids> {
      const v = await made(who, '/v3/volumes', { volume: { size: 1, name: `${project}-v` } }, 'volume');
      const sn = await made(who, '/v3/snapshots', { snapshot: { volume_id: v.id, name: `${project}-s` } }, 'snapshot');
      return { volume: v.id, snapshot: sn.id, operation: v.op, project };
    }

    before(async () => {
      db = await backend.create();
      s = await startStack(db, 'fake', { metricsTokenFile: scrape.file });
      http = supertest.agent(s.svc.url);
      own = await resources('member', OWN);
      other = await resources('other', OTHER);
    });
    after(async () => {
      await s?.stop();
      await db?.cleanup();
    });

    it('has a policy rule and a probe for every route and every action', () => {
      const routes = routeTable(s.svc.deps);
      for (const r of routes) {
        expect(POLICY[r.policy], `${key(r)} has no policy rule`).to.not.equal(undefined);
        if (!r.versioned) continue;
        expect(r.policy, `${key(r)} is versioned but public`).to.not.equal('qcowshare:public');
        if (r.path.endsWith('/action')) continue;
        expect(ROUTE_PROBES[key(r)], `${key(r)} has no probe in the authorization matrix`).to.not.equal(undefined);
      }
      const volumeSchemas = Object.keys(volumeActions(1024)).sort();
      expect(Object.keys(VOLUME_ACTION_POLICY).sort(), 'volume actions vs policy').to.deep.equal(volumeSchemas);
      expect(Object.keys(VOLUME_ACTION_ARGS).sort(), 'volume actions vs probes').to.deep.equal(volumeSchemas);
      const snapshotSchemas = Object.keys(snapshotActions).sort();
      expect(Object.keys(SNAPSHOT_ACTION_POLICY).sort(), 'snapshot actions vs policy').to.deep.equal(snapshotSchemas);
      expect(Object.keys(SNAPSHOT_ACTION_ARGS).sort(), 'snapshot actions vs probes').to.deep.equal(snapshotSchemas);
      // Both action routes must be in the table, or their actions would go untested.
      expect(routes.map(key)).to.include.members(['POST /volumes/:volume_id/action', 'POST /snapshots/:snapshot_id/action']);
    });

    it('answers every cell as the policy says, and no request changes anything', async () => {
      const all = cells(routeTable(s.svc.deps), own, other);
      const wrong: string[] = [];
      const changed: string[] = [];
      let state = await fingerprint(s.svc);
      for (const c of all) {
        // At the advertised microversion, so that routes gated on one (attachments, 3.27+) are reached.
        let req = http[c.method](c.path).set(tokenOf(c.label.split(' ')[0] as Who)).set('OpenStack-API-Version', 'volume 3.70');
        if (c.sent.query) req = req.query(c.sent.query);
        const r = await (c.sent.body !== undefined ? req.send(c.sent.body as object) : req);
        // The stable code too: refusals must say why, admitted callers must fail on validation.
        const fault = Object.values(r.body as Record<string, { error_code?: string }>)[0]?.error_code ?? '';
        const codeOk = c.expect === 200 || (CODES[c.expect] as RegExp).test(fault);
        if (r.status !== c.expect || !codeOk) wrong.push(`${c.label} → ${r.status} ${fault} (expected ${c.expect}) ${JSON.stringify(r.body).slice(0, 160)}`);
        const now = await fingerprint(s.svc);
        if (now !== state) changed.push(`${c.label} → ${r.status}`);
        state = now;
      }
      console.log(`      authorization matrix: ${all.length} cells, ${wrong.length} wrong statuses, ${changed.length} changed state`);
      expect(wrong, wrong.slice(0, 10).join('\n')).to.deep.equal([]);
      expect(changed, changed.join('\n')).to.deep.equal([]);
      // The matrix must exercise every outcome, not collapse into one status.
      expect(new Set(all.map((c) => c.expect))).to.deep.equal(new Set([200, 400, 401, 403, 404]));
    });

    it('keeps the reviewed boundaries of the policy table itself', () => {
      // The matrix checks the service against the table; these pin the table against review.
      for (const r of routeTable(s.svc.deps).filter((x) => x.versioned && x.method !== 'get')) {
        expect(POLICY[r.policy].roles, `${key(r)}: a reader never writes`).to.not.include('reader');
      }
      const pinned: Record<string, Role[]> = {
        'volume_extension:volume_admin_actions:reset_status': ['admin'], 'volume_extension:volume_admin_actions:force_delete': ['admin'],
        'volume_extension:snapshot_admin_actions:reset_status': ['admin'], 'volume_extension:snapshot_admin_actions:force_delete': ['admin'],
        'snapshot_extension:snapshot_actions:update_snapshot_status': ['service'], 'qcowshare:snapshot_metadata:create': ['service'],
        'qcowshare:snapshot_metadata:request_commit': ['service'], 'qcowshare:snapshot_metadata:finalize': ['service'],
        'qcowshare:snapshot_metadata:delete': ['admin', 'service'], 'qcowshare:cross_project': ['admin', 'service'],
        'qcowshare:health:detail': ['admin'],
        'volume_extension:volume_manage': ['admin'], 'volume_extension:list_manageable': ['admin'], 'volume_extension:volume_unmanage': ['admin'],
      };
      for (const [name, roles] of Object.entries(pinned)) expect([...(POLICY[name as PolicyName].roles ?? [])], name).to.deep.equal(roles);
    });

    it('serves the public unversioned documents without a token, and /metrics (a scrape credential set) to nobody without one', async () => {
      const unversioned = routeTable(s.svc.deps).filter((x) => !x.versioned);
      for (const r of unversioned) {
        const res = await http.get(r.path);
        expect(res.status, r.path).to.equal(r.policy === 'qcowshare:public' ? r.status : 401);
      }
      expect(unversioned.filter((r) => r.policy !== 'qcowshare:public').map(key)).to.deep.equal(['GET /metrics']);
    });

    it('answers the probes by caller: /readyz to everyone (its host paths redacted but to admins: readiness.test.ts), /metrics (a scrape credential set) to admins and the credential only', async () => {
      const probes = routeTable(s.svc.deps).filter((x) => !x.versioned && x.identifiesCaller).map(key);
      expect(probes, 'every public route that identifies its caller has a probe here').to.deep.equal(['GET /readyz', 'GET /metrics']);
      const wrong: string[] = [];
      const state = await fingerprint(s.svc);
      for (const who of WHO) {
        const caller = callerOf(who);
        const detail = allows(caller, 'qcowshare:health:detail');
        const ready = await http.get('/readyz').set(tokenOf(who));
        const readyWants = who === 'badtoken' ? 401 : 200;
        const shape = ready.status === 200 ? Object.keys(ready.body).sort().join(',') : ready.body.unauthorized?.error_code;
        const shapeWants = who === 'badtoken' ? 'UNAUTHORIZED' : 'checks,reasons,status';
        if (ready.status !== readyWants || shape !== shapeWants) wrong.push(`${who} GET /readyz → ${ready.status} ${shape} (expected ${readyWants} ${shapeWants})`);
        const metrics = await http.get('/metrics').set(tokenOf(who));
        const metricsWants = caller === undefined ? 401 : detail ? 200 : 403;
        const code = metrics.status === 200 ? '' : Object.values(metrics.body as Record<string, { error_code?: string }>)[0]?.error_code ?? '';
        const codeOk = metricsWants === 200 ? /^# HELP /m.test(metrics.text) : (CODES[metricsWants] as RegExp).test(code);
        if (metrics.status !== metricsWants || !codeOk) wrong.push(`${who} GET /metrics → ${metrics.status} ${code} (expected ${metricsWants})`);
      }
      const scraped = await http.get('/metrics').set('Authorization', `Bearer ${scrape.value}`);
      if (scraped.status !== 200 || !/^# HELP /m.test(scraped.text)) wrong.push(`the scrape credential GET /metrics → ${scraped.status}`);
      expect(wrong, wrong.join('\n')).to.deep.equal([]);
      expect(await fingerprint(s.svc)).to.equal(state);
    });
  });
}

describe('security: roles in noauth mode (X-Roles)', function () {
  this.timeout(120_000);
  let db: TestDb;
  let svc: RunningService;
  let http: ReturnType<typeof supertest>;
  before(async () => {
    db = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    const config = parseServiceConfig({ log: { level: 'silent' }, db: db.config, api: { host: '127.0.0.1', port: 0, auth: 'noauth' } });
    svc = await startService({ config, driver: new FakeDriver(), reaperIntervalMs: 0 });
    http = supertest(svc.url);
  });
  after(async () => {
    await svc?.stop();
    await db?.cleanup();
  });

  it('gives a reader reads only, a caller with no known role nothing, and no header admin + member', async () => {
    const as = (roles?: string) => ({ 'x-auth-token': 'u1:p1', ...(roles === undefined ? {} : { 'x-roles': roles }) });
    await http.get('/v3/volumes').set(as('reader')).expect(200);
    const refused = await http.post('/v3/volumes').set(as('reader')).send({ volume: { size: 1 } }).expect(403);
    expect(refused.body.forbidden.error_code).to.equal('FORBIDDEN');
    expect(refused.body.forbidden.policy).to.equal('volume:create');
    await http.get('/v3/volumes').set(as('Reader, bogus')).expect(200);
    await http.get('/v3/volumes').set(as('bogus')).expect(403);
    await http.get('/v3/volumes').set(as('')).expect(403);
    await http.get('/v3/volumes?all_tenants=true').set(as('member')).expect(403);
    await http.get('/v3/volumes?all_tenants=true').set(as()).expect(200);
    expect(JSON.parse(await fingerprint(svc))[0]).to.deep.equal([]);
  });
});
