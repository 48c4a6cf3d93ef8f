/**
 * The fuzzable routes of both APIs: for each, valid path ids, its query keys and the valid bodies
 * it reads, with the kind of each field (hostile.ts breaks one thing of these). Storage routes
 * come from the route table (both path forms) and the action schemas; a route or action missing
 * here makes `storageRoutes` throw, so the suite cannot silently skip a new route. Coordinator
 * routes are listed by hand and checked against the app's express router (coordinatorPaths).
 */
import { createRequire } from 'node:module';
import { expressPaths, type RouteDef } from '../../src/api/routes/route.js';
import { snapshotActions, volumeActions } from '../../src/api/validation/actions.js';
import type { BodyShape, FieldKind, FuzzRoute } from './hostile.js';

export interface StorageIds { volume: string; snapshot: string; operation: string; project: string }

const LIST_QUERY: Record<string, FieldKind> = {
  limit: 'qlimit', marker: 'uuid', sort: 'qsort', sort_key: 'enum', sort_dir: 'enum', all_tenants: 'bool', project_id: 'qproject', name: 'long', status: 'long', with_count: 'bool',
};

const shape = (body: unknown, fields: [string, FieldKind][], innerStrict = true): BodyShape =>
  ({ body, fields: fields.map(([p, kind]) => ({ path: p.split('.'), kind })), innerStrict });

function routeSpecs(ids: StorageIds): Record<string, { query: Record<string, FieldKind>; strictQuery: boolean; bodies: BodyShape[] }> {
  const none = { query: {}, strictQuery: false, bodies: [] };
  return {
    'GET /': none, 'GET /v3': none, 'GET /healthz': none, 'GET /readyz': none, 'GET /metrics': none, 'GET /openapi.json': none,
    'GET /volumes': { query: { ...LIST_QUERY, bootable: 'bool', display_name: 'long' }, strictQuery: true, bodies: [] },
    'GET /volumes/detail': { query: { ...LIST_QUERY, bootable: 'bool' }, strictQuery: true, bodies: [] },
    'POST /volumes': {
      query: {}, strictQuery: false, bodies: [shape({ volume: { size: 1, name: 'fuzz', metadata: { a: 'b' }, snapshot_id: null } }, [
        ['volume.size', 'size'], ['volume.name', 'name'], ['volume.description', 'name'], ['volume.metadata', 'metadata'], ['volume.snapshot_id', 'uuid?'],
        ['volume.source_volid', 'uuid?'], ['volume.bootable', 'bool'], ['volume.availability_zone', 'enum'], ['volume.imageRef', 'enum'],
      ])],
    },
    'GET /volumes/:volume_id': none,
    'PUT /volumes/:volume_id': { query: {}, strictQuery: false, bodies: [shape({ volume: { name: 'renamed' } }, [['volume.name', 'name'], ['volume.description', 'name'], ['volume.metadata', 'metadata']])] },
    'GET /volumes/:volume_id/tree': none,
    'DELETE /volumes/:volume_id': { query: { cascade: 'bool', force: 'bool' }, strictQuery: true, bodies: [] },
    'GET /snapshots': { query: { ...LIST_QUERY, volume_id: 'uuid', include_hidden: 'bool' }, strictQuery: true, bodies: [] },
    'GET /snapshots/detail': { query: { ...LIST_QUERY, volume_id: 'uuid' }, strictQuery: true, bodies: [] },
    'POST /snapshots': {
      query: {}, strictQuery: false, bodies: [shape({ snapshot: { volume_id: ids.volume, name: 'fuzz' } }, [
        ['snapshot.volume_id', 'uuid'], ['snapshot.force', 'bool'], ['snapshot.name', 'name'], ['snapshot.metadata', 'metadata'],
      ])],
    },
    'GET /snapshots/:snapshot_id': none,
    'PUT /snapshots/:snapshot_id': { query: {}, strictQuery: false, bodies: [shape({ snapshot: { name: 'renamed' } }, [['snapshot.name', 'name'], ['snapshot.description', 'name']])] },
    'DELETE /snapshots/:snapshot_id': { query: {}, strictQuery: true, bodies: [] },
    'GET /snapshots/:snapshot_id/delete-preview': none,
    'GET /operations': { query: { ...LIST_QUERY, volume_id: 'uuid', state: 'enum' }, strictQuery: true, bodies: [] },
    'GET /operations/:operation_id': none,
    'POST /os-check': { query: {}, strictQuery: true, bodies: [shape({ check: { repair: false } }, [['check.repair', 'bool']])] },
    'POST /volumes/:volume_id/os-check': { query: {}, strictQuery: true, bodies: [shape({ check: { repair: false } }, [['check.repair', 'bool']])] },
    'GET /os-compute-hosts': { query: {}, strictQuery: true, bodies: [] },
    'GET /os-compute-hosts/:host_name': { query: {}, strictQuery: true, bodies: [] },
    'PUT /os-compute-hosts/:host_name': {
      query: {}, strictQuery: true, bodies: [shape({ compute_host: { coordinator_endpoint: 'http://127.0.0.1:1/', credential: 'c'.repeat(32) } }, [
        ['compute_host.coordinator_endpoint', 'endpoint'], ['compute_host.credential', 'credential'],
      ])],
    },
    'DELETE /os-compute-hosts/:host_name': { query: {}, strictQuery: true, bodies: [] },
    'GET /manageable_volumes': { query: MANAGEABLE_QUERY, strictQuery: true, bodies: [] },
    'GET /manageable_volumes/detail': { query: MANAGEABLE_QUERY, strictQuery: true, bodies: [] },
    'POST /manageable_volumes': { query: {}, strictQuery: false, bodies: [MANAGE_SHAPE] },
    'GET /os-volume-manage': { query: MANAGEABLE_QUERY, strictQuery: true, bodies: [] },
    'GET /os-volume-manage/detail': { query: MANAGEABLE_QUERY, strictQuery: true, bodies: [] },
    'POST /os-volume-manage': { query: {}, strictQuery: false, bodies: [MANAGE_SHAPE] },
    'GET /volumes/:volume_id/os-export': { query: { since: 'uuid' }, strictQuery: true, bodies: [] },
    'POST /os-checkpoints': {
      query: {}, strictQuery: true, bodies: [shape({ checkpoint: { instance_uuid: OP, name: 'fuzz' } }, [
        ['checkpoint.instance_uuid', 'uuid'], ['checkpoint.name', 'name'], ['checkpoint.description', 'name'], ['checkpoint.mode', 'enum'],
      ])],
    },
    'GET /os-checkpoints': { query: { instance_uuid: 'uuid', all_tenants: 'bool' }, strictQuery: true, bodies: [] },
    'GET /os-checkpoints/:checkpoint_id': { query: {}, strictQuery: true, bodies: [] },
    'DELETE /os-checkpoints/:checkpoint_id': { query: {}, strictQuery: true, bodies: [] },
    'POST /os-checkpoints/:checkpoint_id/action': { query: {}, strictQuery: true, bodies: [shape({ revert: { paused: false } }, [['revert.paused', 'bool'], ['revert.host', 'string']])] },
    'POST /os-volume-import': { query: { keep_ids: 'bool', name: 'long', share: 'long' }, strictQuery: true, bodies: [] },
    'POST /volumes/:volume_id/os-import': { query: {}, strictQuery: true, bodies: [] },
    'POST /os-volume-import-from-share': {
      query: {}, strictQuery: true, bodies: [shape({ import: { share: 'no-such-share', file: 'x.tar' } }, [
        ['import.share', 'string'], ['import.file', 'file'], ['import.name', 'name'], ['import.keep_ids', 'bool'], ['import.to_share', 'long'],
      ])],
    },
    ...metadataSpecs('/volumes/:volume_id'),
    ...metadataSpecs('/snapshots/:snapshot_id'),
    'GET /os-availability-zone': { query: {}, strictQuery: true, bodies: [] },
    'GET /scheduler-stats/get_pools': { query: { detail: 'bool' }, strictQuery: true, bodies: [] },
    'GET /os-services': { query: { host: 'long', binary: 'long' }, strictQuery: true, bodies: [] },
    'GET /volumes/summary': { query: { all_tenants: 'bool', project_id: 'qproject' }, strictQuery: true, bodies: [] },
    'GET /messages': {
      query: { limit: 'qlimit', marker: 'uuid', all_tenants: 'bool', project_id: 'qproject', resource_uuid: 'uuid', resource_type: 'enum', event_id: 'long', request_id: 'long', message_level: 'enum' },
      strictQuery: true, bodies: [],
    },
    'GET /messages/:message_id': { query: {}, strictQuery: true, bodies: [] },
    'DELETE /messages/:message_id': { query: {}, strictQuery: true, bodies: [] },
    'GET /types': { query: { is_public: 'enum', name: 'long' }, strictQuery: true, bodies: [] },
    'GET /types/default': { query: {}, strictQuery: true, bodies: [] },
    'GET /types/:type_id': { query: {}, strictQuery: true, bodies: [] },
    'POST /types': {
      query: {}, strictQuery: true, bodies: [shape({ volume_type: { name: 'fuzz-type', extra_specs: { 'qcowshare:format': 'raw' } } }, [
        ['volume_type.name', 'name'], ['volume_type.description', 'name'], ['volume_type.is_public', 'bool'], ['volume_type.extra_specs', 'metadata'],
      ])],
    },
    'DELETE /types/:type_id': { query: {}, strictQuery: true, bodies: [] },
    'PUT /types/:type_id': {
      query: {}, strictQuery: true, bodies: [shape({ volume_type: { description: 'fuzz' } }, [['volume_type.name', 'name'], ['volume_type.description', 'name'], ['volume_type.is_public', 'bool']])],
    },
    'GET /types/:type_id/os-volume-type-access': { query: {}, strictQuery: true, bodies: [] },
    'POST /types/:type_id/action': {
      query: {}, strictQuery: true, bodies: [
        shape({ addProjectAccess: { project: 'p-fuzz' } }, [['addProjectAccess.project', 'qproject']]),
        shape({ removeProjectAccess: { project: 'p-fuzz' } }, [['removeProjectAccess.project', 'qproject']]),
      ],
    },
    'GET /types/:type_id/extra_specs': { query: {}, strictQuery: true, bodies: [] },
    'POST /types/:type_id/extra_specs': { query: {}, strictQuery: true, bodies: [shape({ extra_specs: { 'qcowshare:format': 'raw' } }, [['extra_specs', 'metadata']], false)] },
    'GET /types/:type_id/extra_specs/:key': { query: {}, strictQuery: true, bodies: [] },
    'PUT /types/:type_id/extra_specs/:key': { query: {}, strictQuery: true, bodies: [shape({ [METADATA_KEY]: 'x' }, [[METADATA_KEY, 'name']], false)] },
    'DELETE /types/:type_id/extra_specs/:key': { query: {}, strictQuery: true, bodies: [] },
    'GET /os-quota-sets/:tenant_id': { query: { usage: 'bool' }, strictQuery: true, bodies: [] },
    'GET /os-quota-sets/:tenant_id/defaults': { query: {}, strictQuery: true, bodies: [] },
    'PUT /os-quota-sets/:tenant_id': {
      query: { skip_validation: 'bool' }, strictQuery: true, bodies: [shape({ quota_set: { volumes: 100 } }, [['quota_set.volumes', 'limit'], ['quota_set.snapshots', 'limit'], ['quota_set.gigabytes', 'limit']])],
    },
    'DELETE /os-quota-sets/:tenant_id': { query: {}, strictQuery: true, bodies: [] },
    'GET /limits': { query: {}, strictQuery: true, bodies: [] },
    'POST /attachments': {
      // The connector is fuzzed on PUT: here null is valid (python-cinderclient sends it when it has none), and a
      // valid create would reserve the volume.
      query: {}, strictQuery: true, bodies: [shape({ attachment: { volume_uuid: ids.volume, instance_uuid: OP, mode: 'rw' } }, [
        ['attachment.volume_uuid', 'uuid'], ['attachment.instance_uuid', 'uuid?'], ['attachment.mode', 'enum'],
      ])],
    },
    'GET /attachments': { query: { all_tenants: 'bool', project_id: 'qproject', volume_id: 'uuid', instance_id: 'uuid', limit: 'qlimit' }, strictQuery: true, bodies: [] },
    'GET /attachments/detail': { query: { all_tenants: 'bool', project_id: 'qproject', volume_id: 'uuid', instance_id: 'uuid', limit: 'qlimit' }, strictQuery: true, bodies: [] },
    'GET /attachments/:attachment_id': { query: {}, strictQuery: true, bodies: [] },
    'PUT /attachments/:attachment_id': { query: {}, strictQuery: true, bodies: [shape({ attachment: { connector: { host: 'fuzz-host' } } }, [['attachment.connector', 'connector']])] },
    'POST /attachments/:attachment_id/action': { query: {}, strictQuery: true, bodies: [shape({ 'os-complete': {} }, [])] },
    'DELETE /attachments/:attachment_id': { query: {}, strictQuery: true, bodies: [] },
  };
}

const OP = '0b5c3f44-6a51-4c7e-9d2b-7f6e5d4c3b2a';

/**
 * Metadata bodies are maps of free keys: an extra inner key is a valid item, so only the top level
 * is strict. The path's {key} is one no fixture has: a read or delete of it is 404, and a set whose
 * path key was broken no longer matches the body's key (400).
 */
function metadataSpecs(base: string): Record<string, { query: Record<string, FieldKind>; strictQuery: boolean; bodies: BodyShape[] }> {
  const none = { query: {}, strictQuery: true, bodies: [] };
  const set = { query: {}, strictQuery: true, bodies: [shape({ metadata: { fuzz: 'x' } }, [['metadata', 'metadata'], ['metadata.fuzz', 'name']], false)] };
  return {
    [`GET ${base}/metadata`]: none, [`POST ${base}/metadata`]: set, [`PUT ${base}/metadata`]: set,
    [`GET ${base}/metadata/:key`]: none, [`DELETE ${base}/metadata/:key`]: none,
    [`PUT ${base}/metadata/:key`]: { query: {}, strictQuery: true, bodies: [shape({ meta: { [METADATA_KEY]: 'x' } }, [['meta', 'metadata'], [`meta.${METADATA_KEY}`, 'name']], false)] },
  };
}
export const METADATA_KEY = 'fuzz-key';

const MANAGEABLE_QUERY: Record<string, FieldKind> = { host: 'long', limit: 'qlimit', offset: 'long' };
const MANAGE_SHAPE = shape({ volume: { host: 'no-such-share', ref: { 'source-name': 'volume-0b5c3f44-6a51-4c7e-9d2b-7f6e5d4c3b2b' } } }, [
  ['volume.host', 'string'], ['volume.ref.source-name', 'file'], ['volume.name', 'name'], ['volume.description', 'name'], ['volume.metadata', 'metadata'],
  ['volume.bootable', 'bool'], ['volume.volume_type', 'string'],
]);

function volumeActionShapes(ids: StorageIds): Record<string, BodyShape> {
  return {
    'os-extend': shape({ 'os-extend': { new_size: 2 } }, [['os-extend.new_size', 'size']]),
    'os-reset_status': shape({ 'os-reset_status': { status: 'available' } }, [['os-reset_status.status', 'enum'], ['os-reset_status.attach_status', 'enum']]),
    'os-force_delete': shape({ 'os-force_delete': {} }, []),
    'os-initialize_connection': shape({ 'os-initialize_connection': { connector: { host: 'h1' } } }, [['os-initialize_connection.connector', 'connector']]),
    'os-terminate_connection': shape({ 'os-terminate_connection': { connector: { host: 'h1' } } }, [['os-terminate_connection.connector', 'connector']]),
    'os-attach': shape({ 'os-attach': { mountpoint: '/dev/vdb', instance_uuid: OP } }, [
      ['os-attach.mountpoint', 'mountpoint'], ['os-attach.instance_uuid', 'uuid?'], ['os-attach.mode', 'enum'], ['os-attach.active_file', 'file?'], ['os-attach.format', 'enum'],
    ]),
    'os-detach': shape({ 'os-detach': {} }, [['os-detach.attachment_id', 'uuid?']]),
    'os-reserve': shape({ 'os-reserve': {} }, []),
    'os-unreserve': shape({ 'os-unreserve': {} }, []),
    'os-begin_detaching': shape({ 'os-begin_detaching': {} }, []),
    'os-roll_detaching': shape({ 'os-roll_detaching': {} }, []),
    revert: shape({ revert: { snapshot_id: ids.snapshot } }, [['revert.snapshot_id', 'uuid']]),
    'os-revert_to_snapshot': shape({ 'os-revert_to_snapshot': { snapshot_id: ids.snapshot } }, [['os-revert_to_snapshot.snapshot_id', 'uuid']]),
    'os-unmanage': shape({ 'os-unmanage': {} }, []),
    'os-export-to-share': shape({ 'os-export-to-share': { share: 'no-such-share', name: 'x.tar' } }, [
      ['os-export-to-share.share', 'string'], ['os-export-to-share.name', 'file'], ['os-export-to-share.since', 'uuid?'],
    ]),
    'os-create_snapshot_metadata': shape({ 'os-create_snapshot_metadata': { name: 'm' } }, [
      ['os-create_snapshot_metadata.snapshot_id', 'uuid?'], ['os-create_snapshot_metadata.name', 'name'], ['os-create_snapshot_metadata.metadata', 'metadata'],
    ]),
  };
}

const SNAPSHOT_ACTION_SHAPES: Record<string, BodyShape> = {
  'os-reset_status': shape({ 'os-reset_status': { status: 'available' } }, [['os-reset_status.status', 'enum']]),
  'os-force_delete': shape({ 'os-force_delete': {} }, []),
  'os-update_snapshot_status': shape({ 'os-update_snapshot_status': { status: 'available', progress: '50%' } }, [
    ['os-update_snapshot_status.status', 'enum'], ['os-update_snapshot_status.progress', 'percent'],
  ]),
  'os-request_commit': shape({ 'os-request_commit': { operation_id: OP, fencing_token: 1 } }, [
    ['os-request_commit.operation_id', 'uuid'], ['os-request_commit.fencing_token', 'fencing'],
  ]),
  'os-finalize_snapshot_metadata': shape({ 'os-finalize_snapshot_metadata': { operation_id: OP, fencing_token: 1, status: 'available' } }, [
    ['os-finalize_snapshot_metadata.operation_id', 'uuid'], ['os-finalize_snapshot_metadata.fencing_token', 'fencing'],
    ['os-finalize_snapshot_metadata.status', 'enum'], ['os-finalize_snapshot_metadata.active_file', 'file?'], ['os-finalize_snapshot_metadata.format', 'enum'],
  ]),
  'os-delete_snapshot_metadata': shape({ 'os-delete_snapshot_metadata': {} }, []),
};

/** Every route of the storage table, both path forms, with its valid ids, query keys and bodies. */
export function storageRoutes(table: RouteDef[], ids: StorageIds, auth: Record<string, string>[]): FuzzRoute[] {
  const specs = routeSpecs(ids);
  const vActions = volumeActionShapes(ids);
  for (const a of Object.keys(volumeActions(1024))) if (!vActions[a]) throw new Error(`hostile suite: no body shape for volume action ${a}`);
  for (const a of Object.keys(snapshotActions)) if (!SNAPSHOT_ACTION_SHAPES[a]) throw new Error(`hostile suite: no body shape for snapshot action ${a}`);
  const out: FuzzRoute[] = [];
  for (const r of table) {
    const key = `${r.method.toUpperCase()} ${r.path}`;
    const spec = r.path === '/volumes/:volume_id/action' ? { query: {}, strictQuery: true, bodies: Object.values(vActions) }
      : r.path === '/snapshots/:snapshot_id/action' ? { query: {}, strictQuery: true, bodies: Object.values(SNAPSHOT_ACTION_SHAPES) }
        : specs[key];
    if (!spec) throw new Error(`hostile suite: no spec for route ${key}`);
    for (const template of expressPaths(r)) {
      const params: Record<string, string> = {};
      for (const [, n] of template.matchAll(/:([a-z_]+)/g)) {
        params[n as string] = n === 'project_id' ? ids.project : n === 'volume_id' ? ids.volume : n === 'snapshot_id' ? ids.snapshot : n === 'host_name' ? 'fuzz-host' : n === 'key' ? METADATA_KEY
          : n === 'type_id' ? 'fuzz-type' : n === 'tenant_id' ? ids.project : ids.operation;
      }
      // The attachments API exists from microversion 3.27: sent at the advertised one, or every request would be a 404.
      const versioned = r.path.startsWith('/attachments') ? auth.map((h) => ({ ...h, 'openstack-api-version': 'volume 3.70' })) : auth;
      out.push({ api: 'storage', method: r.method, template, params, ...spec, auth: r.versioned ? versioned : [{}], open: !r.versioned });
    }
  }
  return out;
}

export interface CoordinatorIds { dom: string; vol: string; snap: string; file: (s?: string) => string }

export function coordinatorRoutes(c: CoordinatorIds, token: string): FuzzRoute[] {
  const auth = [{ 'x-auth-token': token }];
  const base = { api: 'coordinator' as const, query: {}, strictQuery: false, bodies: [], auth, params: {} };
  const nova = shape({ snapshot: { volume_id: c.vol, create_info: { snapshot_id: c.snap, type: 'qcow2', new_file: c.file(c.snap) } } }, [
    ['snapshot.volume_id', 'uuid'], ['snapshot.create_info', 'string'], ['snapshot.create_info.snapshot_id', 'uuid'], ['snapshot.create_info.type', 'enum'],
    ['snapshot.create_info.new_file', 'file'], ['snapshot.create_info.id', 'string'],
  ]);
  const deleteInfo = encodeURIComponent(JSON.stringify({ type: 'qcow2', file_to_merge: c.file(c.snap), merge_target_file: c.file(), volume_id: c.vol }));
  const plan = { operation_id: 'fuzz-op', fencing_token: 1, volume_id: c.vol, snapshot_id: c.snap };
  const planFields: [string, FieldKind][] = [['operation_id', 'opid'], ['fencing_token', 'fencing'], ['volume_id', 'uuid'], ['snapshot_id', 'uuid']];
  const create = shape({ ...plan, new_file: c.file(c.snap), expected_top: c.file(), quiesce: 'off' }, [...planFields, ['new_file', 'file'], ['expected_top', 'file'], ['quiesce', 'enum']], false);
  const merge = shape({ ...plan, operation: 'pull', top: c.file(), base: null, expected_chain: [c.file()], result_chain: [c.file()] },
    [...planFields, ['operation', 'enum'], ['top', 'file'], ['base', 'file?'], ['expected_chain', 'chain'], ['result_chain', 'chain']], false);
  const ids = { uuid: c.dom, volumeId: c.vol };
  const routes: FuzzRoute[] = [
    { ...base, method: 'get', template: '/healthz', auth: [{}], open: true },
    { ...base, method: 'get', template: '/readyz', auth: [{}], open: true },
    { ...base, method: 'get', template: '/metrics' },
    ...['/os-assisted-volume-snapshots', '/v2.1/os-assisted-volume-snapshots', '/v2.1/p1/os-assisted-volume-snapshots'].flatMap((p): FuzzRoute[] => [
      { ...base, method: 'post', template: p, bodies: [nova] },
      { ...base, method: 'delete', template: `${p}/:snapshotId`, params: { snapshotId: c.snap }, query: { delete_info: 'deleteinfo' }, baseQuery: `delete_info=${deleteInfo}` },
    ]),
    { ...base, method: 'post', template: '/v1/snapshots', bodies: [create] },
    { ...base, method: 'post', template: '/v1/merges', bodies: [merge] },
    {
      ...base, method: 'post', template: '/v1/instances/:uuid/snapshots', params: { uuid: c.dom }, bodyOptional: true,
      bodies: [shape({ volumes: [c.vol], quiesce: 'off', name: 'n' }, [['volumes', 'volumes'], ['quiesce', 'enum'], ['name', 'mountpoint']], false)],
    },
    { ...base, method: 'get', template: '/v1/jobs' },
    { ...base, method: 'get', template: '/v1/jobs/:id', params: { id: 'no-such-job' } },
    { ...base, method: 'post', template: '/v1/jobs/:id/cancel', params: { id: 'no-such-job' } },
    { ...base, method: 'post', template: '/v1/instances/:uuid/volumes/:volumeId', params: ids },
    { ...base, method: 'delete', template: '/v1/instances/:uuid/volumes/:volumeId', params: ids },
    { ...base, method: 'get', template: '/v1/instances/:uuid/volumes/:volumeId/disk', params: ids },
    { ...base, method: 'post', template: '/v1/instances/:uuid/volumes/:volumeId/resize', params: ids, bodies: [shape({ size_bytes: 2 ** 30 }, [['size_bytes', 'bytes']], false)] },
    {
      ...base, method: 'put', template: '/v1/instances/:uuid/volumes/:volumeId/source', params: ids,
      bodies: [shape({ file: c.file(c.snap), format: 'qcow2', expected_file: c.file() }, [['file', 'file'], ['format', 'enum'], ['expected_file', 'file']], false)],
    },
  ];
  return routes;
}

interface RecordedRoute { path: string | string[]; methods: Record<string, boolean> }
interface RouterProto { route(this: unknown, path: string | string[]): RecordedRoute }

/**
 * Records every route express registers while `build` runs (express 5 hides apps mounted with
 * app.use(app) behind closures, so the built app cannot be walked afterwards): "METHOD path".
 */
export async function recordRoutes<T>(build: () => Promise<T>): Promise<{ built: T; routes: () => string[] }> {
  const proto = (createRequire(import.meta.url)('router') as { prototype: RouterProto }).prototype;
  const original = proto.route;
  const seen: RecordedRoute[] = [];
  proto.route = function route(this: unknown, p: string | string[]) {
    const r = original.call(this, p);
    seen.push(r);
    return r;
  };
  try {
    const built = await build();
    return {
      built,
      routes: () => [...new Set(seen.flatMap((r) => [r.path].flat().flatMap((p) => Object.keys(r.methods).map((m) => `${m.toUpperCase()} ${p}`))))].sort(),
    };
  } finally {
    proto.route = original;
  }
}
