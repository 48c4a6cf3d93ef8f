/**
 * The README's compatibility table: every Cinder v3 resource and action, served (by which routes
 * of the route table) or refused (with the answer a client gets and why). The rows are listed
 * here by hand; a test checks them against the route table both ways (a route without a row, or
 * a row naming a route that does not exist, fails), and the README section is generated from
 * them (scripts/compat-table.ts). Actions come from the action schemas and the unsupported-action
 * lists, so a new action cannot be missing from the table.
 */
import { snapshotActions, volumeActions } from '../validation/actions.js';
import { UNSUPPORTED_SNAPSHOT_ACTIONS, UNSUPPORTED_VOLUME_ACTIONS } from '../validation/unsupported-actions.js';
import { UNSUPPORTED_RESOURCES } from './unsupported-resources.js';

export interface CompatRow {
  /** Cinder's name of the resource or endpoint group. */
  resource: string;
  /** Route-table keys ("GET /volumes/:volume_id") that serve it; empty: refused. */
  routes: readonly string[];
  /** Refused: what a client gets and why. Served: notes (microversion, deviations). */
  note: string;
}

/** Cinder's own resources this service serves. */
export const SERVED: readonly CompatRow[] = [
  { resource: 'API versions', routes: ['GET /', 'GET /v3'], note: 'microversions 3.0 to the maximum of the history table (src/api/microversions/history.ts)' },
  { resource: 'Volumes', routes: ['GET /volumes', 'GET /volumes/detail', 'POST /volumes', 'GET /volumes/:volume_id', 'PUT /volumes/:volume_id', 'DELETE /volumes/:volume_id'], note: 'with_count (3.45); imageRef, backup_id, group_id and multiattach are refused with INVALID_INPUT' },
  { resource: 'Volume summary', routes: ['GET /volumes/summary'], note: '3.12; metadata (3.36)' },
  { resource: 'Volume metadata', routes: ['GET /volumes/:volume_id/metadata', 'POST /volumes/:volume_id/metadata', 'PUT /volumes/:volume_id/metadata', 'GET /volumes/:volume_id/metadata/:key', 'PUT /volumes/:volume_id/metadata/:key', 'DELETE /volumes/:volume_id/metadata/:key'], note: 'ETag / If-Match (3.15)' },
  { resource: 'Volume actions', routes: ['POST /volumes/:volume_id/action'], note: 'each action below' },
  { resource: 'Snapshots', routes: ['GET /snapshots', 'GET /snapshots/detail', 'POST /snapshots', 'GET /snapshots/:snapshot_id', 'PUT /snapshots/:snapshot_id', 'DELETE /snapshots/:snapshot_id'], note: '' },
  { resource: 'Snapshot metadata', routes: ['GET /snapshots/:snapshot_id/metadata', 'POST /snapshots/:snapshot_id/metadata', 'PUT /snapshots/:snapshot_id/metadata', 'GET /snapshots/:snapshot_id/metadata/:key', 'PUT /snapshots/:snapshot_id/metadata/:key', 'DELETE /snapshots/:snapshot_id/metadata/:key'], note: '' },
  { resource: 'Snapshot actions', routes: ['POST /snapshots/:snapshot_id/action'], note: 'each action below' },
  { resource: 'Volume manage (manageable_volumes, os-volume-manage)', routes: ['GET /manageable_volumes', 'GET /manageable_volumes/detail', 'POST /manageable_volumes', 'GET /os-volume-manage', 'GET /os-volume-manage/detail', 'POST /os-volume-manage'], note: '3.8; admin only' },
  { resource: 'Availability zones', routes: ['GET /os-availability-zone'], note: 'the one zone nova' },
  { resource: 'Services', routes: ['GET /os-services'], note: 'this storage-service process and each registered coordinator, up or down from its heartbeats (coordinator.heartbeatMs, api.serviceDownMs); set-log / get-log refused (log.level)' },
  { resource: 'Back-end storage pools', routes: ['GET /scheduler-stats/get_pools'], note: 'one pool per share; admin only' },
  { resource: 'User messages', routes: ['GET /messages', 'GET /messages/:message_id', 'DELETE /messages/:message_id'], note: '3.3, filters and pages 3.5' },
  {
    resource: 'Volume types and extra specs',
    routes: ['GET /types', 'GET /types/default', 'GET /types/:type_id', 'POST /types', 'PUT /types/:type_id', 'DELETE /types/:type_id', 'GET /types/:type_id/extra_specs', 'POST /types/:type_id/extra_specs', 'GET /types/:type_id/extra_specs/:key', 'PUT /types/:type_id/extra_specs/:key', 'DELETE /types/:type_id/extra_specs/:key'],
    note: 'specs volume_backend_name, qcowshare:format, qcowshare:preallocation, qcowshare:share; update of name, description, is_public (the default type keeps its name and stays public)',
  },
  {
    resource: 'Volume type access (os-volume-type-access)',
    routes: ['GET /types/:type_id/os-volume-type-access', 'POST /types/:type_id/action'],
    note: 'addProjectAccess, removeProjectAccess; admin only; a private type is seen and used by admins and the projects given access',
  },
  { resource: 'Quotas', routes: ['GET /os-quota-sets/:tenant_id', 'GET /os-quota-sets/:tenant_id/defaults', 'PUT /os-quota-sets/:tenant_id', 'DELETE /os-quota-sets/:tenant_id'], note: 'volumes, snapshots, gigabytes (hidden snapshots count); manage and import count' },
  { resource: 'Limits', routes: ['GET /limits'], note: 'absolute limits of the caller\'s project' },
  {
    resource: 'Attachments',
    routes: ['POST /attachments', 'GET /attachments', 'GET /attachments/detail', 'GET /attachments/:attachment_id', 'PUT /attachments/:attachment_id', 'POST /attachments/:attachment_id/action', 'DELETE /attachments/:attachment_id'],
    note: '3.27; os-complete 3.44; mode 3.54; the connector\'s host must be a registered compute host; multiattach refused',
  },
];

/** This service's own routes (not Cinder's), listed so that every route has a row. */
export const EXTENSIONS: readonly CompatRow[] = [
  { resource: 'Health, readiness, metrics, OpenAPI', routes: ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json'], note: "not under /v3; `/readyz`: the host's paths redacted unless an admin asks; `/metrics`: open until a scrape credential is set, then it or an admin" },
  { resource: 'Operations (progress of asynchronous work)', routes: ['GET /operations', 'GET /operations/:operation_id'], note: '' },
  { resource: 'Snapshot tree of a volume', routes: ['GET /volumes/:volume_id/tree'], note: '' },
  { resource: 'What deleting a snapshot would do (merge direction, bytes)', routes: ['GET /snapshots/:snapshot_id/delete-preview'], note: '' },
  { resource: 'Export / import of a volume with its tree', routes: ['GET /volumes/:volume_id/os-export', 'POST /os-volume-import', 'POST /volumes/:volume_id/os-import', 'POST /os-volume-import-from-share'], note: 'export to a share: the volume action os-export-to-share (admin)' },
  { resource: 'Export / import of an instance with its volumes and checkpoints', routes: ['GET /os-instances/:instance_uuid/os-export', 'POST /os-instance-import', 'POST /os-instances/:instance_uuid/action'], note: 'admin; the instance is exported shut off; action os-define: an imported instance defined stopped on a host' },
  { resource: 'Consistency check', routes: ['POST /os-check', 'POST /volumes/:volume_id/os-check'], note: 'admin only' },
  { resource: 'Compute-host registry', routes: ['GET /os-compute-hosts', 'GET /os-compute-hosts/:host_name', 'PUT /os-compute-hosts/:host_name', 'DELETE /os-compute-hosts/:host_name'], note: '' },
  { resource: 'Checkpoints of instances', routes: ['POST /os-checkpoints', 'GET /os-checkpoints', 'GET /os-checkpoints/:checkpoint_id', 'DELETE /os-checkpoints/:checkpoint_id', 'POST /os-checkpoints/:checkpoint_id/action'], note: '' },
];

/** Cinder resources refused as a whole: 501 NOT_IMPLEMENTED with the reason (unsupported-resources.ts). */
export function refusedResources(): CompatRow[] {
  return Object.entries(UNSUPPORTED_RESOURCES).map(([path, reason]) => ({ resource: `/${path}`, routes: [], note: `501 NOT_IMPLEMENTED: ${reason}` }));
}

export interface ActionRow { target: 'volume' | 'snapshot'; action: string; served: boolean }

/** Every action the service knows, served or refused (400 ACTION_NOT_SUPPORTED naming it). */
export function actionRows(): ActionRow[] {
  return [
    ...Object.keys(volumeActions(1)).map((a) => ({ target: 'volume' as const, action: a, served: true })),
    ...UNSUPPORTED_VOLUME_ACTIONS.map((a) => ({ target: 'volume' as const, action: a, served: false })),
    ...Object.keys(snapshotActions).map((a) => ({ target: 'snapshot' as const, action: a, served: true })),
    ...UNSUPPORTED_SNAPSHOT_ACTIONS.map((a) => ({ target: 'snapshot' as const, action: a, served: false })),
  ];
}

const esc = (s: string) => s.replace(/\|/g, '\\|');

/** The README section's body (between its markers). */
export function renderCompatTable(): string {
  const lines = ['| Cinder v3 resource | status | routes | notes |', '|---|---|---|---|'];
  for (const r of SERVED) lines.push(`| ${esc(r.resource)} | served | ${r.routes.map((k) => `\`${k}\``).join(', ')} | ${esc(r.note)} |`);
  for (const r of refusedResources()) lines.push(`| ${esc(r.resource)} | refused | | ${esc(r.note)} |`);
  lines.push('', '| action | on | status |', '|---|---|---|');
  for (const a of actionRows()) lines.push(`| \`${a.action}\` | ${a.target} | ${a.served ? 'served' : 'refused: 400 ACTION_NOT_SUPPORTED'} |`);
  lines.push('', '| this service\'s own routes | routes | notes |', '|---|---|---|');
  for (const r of EXTENSIONS) lines.push(`| ${esc(r.resource)} | ${r.routes.map((k) => `\`${k}\``).join(', ')} | ${esc(r.note)} |`);
  return `${lines.join('\n')}\n`;
}
