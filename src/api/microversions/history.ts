/**
 * Cinder's v3 microversions, one row each (Cinder's REST_API_VERSION_HISTORY), and what this
 * service does with each: `served`, or `refused` with the reason a client is given (the route
 * answers a stable error code saying so, never 404 "no route"). The advertised maximum
 * (MAX_VERSION) is the last version up to which every row is one of the two: a row that is
 * neither (`missing`) caps it, so the service never promises what it does not serve.
 *
 * `routes`: the route-table keys ("GET /messages") the version brings, when the version adds
 * routes; requests naming a lower microversion get MICROVERSION_TOO_LOW for them, as Cinder
 * answers 404 for a method its requested version does not have. `actions`: the same for actions.
 *
 * A feature lands here with a one-line edit: its row goes from `refused` to `served`, naming
 * the routes it brings, and its resource leaves unsupported-resources.ts.
 */
import { REASONS } from './unsupported-resources.js';

export type Status = 'served' | 'refused' | 'missing';

/**
 * A request that shows the refusal: `{volume}` stands for a volume of the caller's; the answer
 * must carry `code` (a test sends each one).
 */
export interface Probe {
  method: 'get' | 'post';
  path: string;
  body?: unknown;
  code: 'NOT_IMPLEMENTED' | 'ACTION_NOT_SUPPORTED' | 'INVALID_INPUT';
}

export interface Microversion {
  version: string;
  /** What Cinder added at this version. */
  feature: string;
  status: Status;
  /** refused / missing: what a client is told (or, for missing, why it is not served yet). */
  reason?: string;
  routes?: readonly string[];
  actions?: readonly string[];
  /** refused: how a client meets the refusal. */
  probe?: Probe;
}

const BACKUPS = REASONS.backups;
const GROUPS = REASONS.groups;
const CLUSTERS = REASONS.clusters;
const TRANSFERS = REASONS.transfers;
const route = (path: string): Probe => ({ method: 'get', path, code: 'NOT_IMPLEMENTED' });
const action = (name: string, args: unknown = {}): Probe => ({ method: 'post', path: '/volumes/{volume}/action', body: { [name]: args }, code: 'ACTION_NOT_SUPPORTED' });
const filter = (path: string): Probe => ({ method: 'get', path, code: 'INVALID_INPUT' });

export const HISTORY: readonly Microversion[] = [
  { version: '3.0', feature: 'the v2 API and its extensions (volumes, snapshots, actions, metadata, availability zones, services, pools)', status: 'served' },
  { version: '3.1', feature: 'visibility and protected in os-volume_upload_image', status: 'refused', reason: 'os-volume_upload_image is refused with ACTION_NOT_SUPPORTED (no image service)', probe: action('os-volume_upload_image', { image_name: 'x' }) },
  { version: '3.2', feature: 'bootable filter of the volume list taken literally', status: 'served' },
  { version: '3.3', feature: 'user messages', status: 'served', routes: ['GET /messages', 'GET /messages/:message_id', 'DELETE /messages/:message_id'] },
  { version: '3.4', feature: 'glance_metadata filter of the volume list', status: 'refused', reason: 'unknown list filters are refused with INVALID_INPUT (no image metadata is kept)', probe: filter('/volumes?glance_metadata=%7B%7D') },
  { version: '3.5', feature: 'pagination and filters of the messages list', status: 'served' },
  { version: '3.6', feature: 'empty name and description of a consistency group', status: 'refused', reason: GROUPS, probe: route('/consistencygroups') },
  { version: '3.7', feature: 'clusters API, cluster_name in the service list', status: 'refused', reason: CLUSTERS, probe: route('/clusters') },
  { version: '3.8', feature: 'manageable volumes and snapshots resources', status: 'served', routes: ['GET /manageable_volumes', 'GET /manageable_volumes/detail', 'POST /manageable_volumes'] },
  { version: '3.9', feature: 'backup update', status: 'refused', reason: BACKUPS, probe: route('/backups') },
  { version: '3.10', feature: 'group_id filter of the volume list', status: 'refused', reason: GROUPS, probe: filter('/volumes?group_id=0b5c3f44-6a51-4c7e-9d2b-7f6e5d4c3b2a') },
  { version: '3.11', feature: 'group types and group specs', status: 'refused', reason: GROUPS, probe: route('/group_types') },
  { version: '3.12', feature: 'volumes summary', status: 'served', routes: ['GET /volumes/summary'] },
  { version: '3.13', feature: 'generic volume groups', status: 'refused', reason: GROUPS, probe: route('/groups') },
  { version: '3.14', feature: 'group snapshots, group from source', status: 'refused', reason: GROUPS, probe: route('/group_snapshots') },
  { version: '3.15', feature: 'ETag / If-Match on volume metadata (lost updates)', status: 'served' },
  { version: '3.16', feature: 'migrate volume to a cluster', status: 'refused', reason: 'os-migrate_volume is refused with ACTION_NOT_SUPPORTED (one backend: nothing to migrate to)', probe: action('os-migrate_volume', { host: 'elsewhere' }) },
  { version: '3.17', feature: 'cluster filter of manageable volumes', status: 'refused', reason: CLUSTERS, probe: route('/clusters') },
  { version: '3.18', feature: 'backup project attribute', status: 'refused', reason: BACKUPS, probe: route('/backups/detail') },
  { version: '3.19', feature: 'reset status of a group snapshot', status: 'refused', reason: GROUPS, probe: route('/group_snapshots') },
  { version: '3.20', feature: 'reset status of a group', status: 'refused', reason: GROUPS, probe: route('/groups') },
  { version: '3.21', feature: 'provider_id in the volume detail (admin)', status: 'served' },
  { version: '3.22', feature: 'metadata filter of the snapshot list', status: 'served' },
  { version: '3.23', feature: 'force parameter of volume delete', status: 'served' },
  { version: '3.24', feature: 'workers/cleanup', status: 'refused', reason: 'crash recovery runs by itself at start and periodically; there is nothing to clean up by request', probe: { method: 'post', path: '/workers/cleanup', body: {}, code: 'NOT_IMPLEMENTED' } },
  { version: '3.25', feature: 'volumes field of groups', status: 'refused', reason: GROUPS, probe: route('/groups/detail') },
  { version: '3.26', feature: 'cluster failover and filters', status: 'refused', reason: CLUSTERS, probe: route('/clusters/detail') },
  { version: '3.27', feature: 'attachments API', status: 'served', routes: ['POST /attachments', 'GET /attachments', 'GET /attachments/detail', 'GET /attachments/:attachment_id', 'PUT /attachments/:attachment_id', 'DELETE /attachments/:attachment_id'] },
  { version: '3.28', feature: 'filters of get_pools', status: 'served' },
  { version: '3.29', feature: 'filters, sort and pages of group snapshots', status: 'refused', reason: GROUPS, probe: route('/group_snapshots/detail') },
  { version: '3.30', feature: 'snapshot list sorted by name', status: 'served' },
  { version: '3.31', feature: 'configurable resource query filters', status: 'refused', reason: 'the filters of each list are fixed (documented in the OpenAPI document)', probe: route('/resource_filters') },
  { version: '3.32', feature: 'set-log / get-log of services', status: 'refused', reason: 'log levels come from the configuration file (log.level)', probe: { method: 'post', path: '/os-services/get-log', body: {}, code: 'NOT_IMPLEMENTED' } },
  { version: '3.33', feature: 'resource_filters API', status: 'refused', reason: 'the filters of each list are fixed (documented in the OpenAPI document)', probe: route('/resource_filters') },
  { version: '3.34', feature: 'like filters (name~) in lists', status: 'refused', reason: 'unknown list filters are refused with INVALID_INPUT', probe: filter('/volumes?name~=abc') },
  { version: '3.35', feature: 'volume-type filter of get_pools', status: 'refused', reason: 'unknown pool filters are refused with INVALID_INPUT', probe: filter('/scheduler-stats/get_pools?volume_type=lvm') },
  { version: '3.36', feature: 'metadata in the volumes summary', status: 'served' },
  { version: '3.37', feature: 'backups sorted by name', status: 'refused', reason: BACKUPS, probe: route('/backups?sort=name') },
  { version: '3.38', feature: 'replication groups', status: 'refused', reason: GROUPS, probe: route('/groups') },
  { version: '3.39', feature: 'project_id filter of limits (admin)', status: 'refused', reason: 'limits are the caller\'s project\'s own (an admin reads another project\'s with os-quota-sets); the project_id filter is refused with INVALID_INPUT', probe: filter('/limits?project_id=0b5c3f446a514c7e9d2b7f6e5d4c3b2a') },
  { version: '3.40', feature: 'revert a volume to its latest snapshot', status: 'served', actions: ['revert'] },
  { version: '3.41', feature: 'user_id in snapshots', status: 'served' },
  { version: '3.42', feature: 'extend of an in-use volume', status: 'served' },
  { version: '3.43', feature: 'backup metadata', status: 'refused', reason: BACKUPS, probe: route('/backups') },
  { version: '3.44', feature: 'attachment complete', status: 'served', routes: ['POST /attachments/:attachment_id/action'] },
  { version: '3.45', feature: 'count in volume and snapshot lists (with_count)', status: 'served' },
  { version: '3.46', feature: 'create a volume from a Nova 0-size image', status: 'refused', reason: 'imageRef is refused with INVALID_INPUT (no image service)', probe: { method: 'post', path: '/volumes', body: { volume: { size: 1, imageRef: '0b5c3f44-6a51-4c7e-9d2b-7f6e5d4c3b2a' } }, code: 'INVALID_INPUT' } },
  { version: '3.47', feature: 'create a volume from a backup', status: 'refused', reason: BACKUPS, probe: { method: 'post', path: '/volumes', body: { volume: { size: 1, backup_id: '0b5c3f44-6a51-4c7e-9d2b-7f6e5d4c3b2a' } }, code: 'INVALID_INPUT' } },
  { version: '3.48', feature: 'shared_targets and service_uuid in volumes', status: 'served' },
  { version: '3.49', feature: 'backend state in the service list', status: 'served' },
  { version: '3.50', feature: 'multiattach', status: 'refused', reason: 'a qcow2 file is opened by one guest at a time: multiattach volumes are refused', probe: { method: 'post', path: '/volumes', body: { volume: { size: 1, multiattach: true } }, code: 'INVALID_INPUT' } },
  { version: '3.51', feature: 'cross-AZ backups', status: 'refused', reason: BACKUPS, probe: route('/backups') },
  { version: '3.52', feature: 'availability zones of volume types, type filter by extra_specs', status: 'refused', reason: 'types are listed whole (filters is_public and name); the extra_specs filter is refused with INVALID_INPUT', probe: filter('/types?extra_specs=%7B%7D') },
  { version: '3.53', feature: 'strict request schemas', status: 'served' },
  { version: '3.54', feature: 'mode of attachment-create', status: 'served' },
  { version: '3.55', feature: 'transfer a volume with its snapshots', status: 'refused', reason: TRANSFERS, probe: route('/volume-transfers') },
  { version: '3.56', feature: 'user_id of backups', status: 'refused', reason: BACKUPS, probe: route('/backups/detail') },
  { version: '3.57', feature: 'transfer fields', status: 'refused', reason: TRANSFERS, probe: route('/volume-transfers') },
  { version: '3.58', feature: 'project_id of groups and group snapshots', status: 'refused', reason: GROUPS, probe: route('/groups/detail') },
  { version: '3.59', feature: 'transfer pagination', status: 'refused', reason: TRANSFERS, probe: route('/volume-transfers?limit=1') },
  { version: '3.60', feature: 'created_at / updated_at comparison filters of volume lists', status: 'refused', reason: 'unknown list filters are refused with INVALID_INPUT', probe: filter('/volumes?created_at=gt:2020-01-01T00:00:00') },
  { version: '3.61', feature: 'cluster_name in the volume detail (admin)', status: 'refused', reason: CLUSTERS, probe: route('/clusters') },
  { version: '3.62', feature: 'default volume type overrides per project', status: 'refused', reason: REASONS.defaultTypes, probe: route('/default-types') },
  { version: '3.63', feature: 'volume_type_id in the volume detail', status: 'served' },
  { version: '3.64', feature: 'encryption_key_id in volumes (null: volumes are not encrypted)', status: 'served' },
  { version: '3.65', feature: 'consumes_quota in volumes and snapshots', status: 'served' },
  { version: '3.66', feature: 'snapshot of an in-use volume without force', status: 'served' },
  { version: '3.67', feature: 'project_id optional in URLs', status: 'served' },
  { version: '3.68', feature: 're-image a volume', status: 'refused', reason: 'os-reimage is refused with ACTION_NOT_SUPPORTED (no image service)', probe: action('os-reimage', { image_id: '0b5c3f44-6a51-4c7e-9d2b-7f6e5d4c3b2a' }) },
  { version: '3.69', feature: 'shared_targets may be null', status: 'served' },
  { version: '3.70', feature: 'transfer of encrypted volumes', status: 'refused', reason: TRANSFERS, probe: route('/volume-transfers') },
];
