/**
 * The one policy table: which roles may call each route and each action. Routes name their rule
 * (RouteDef.policy), actions are mapped below, and the authorization test enumerates this table
 * against the route table, so a route or action without a rule fails CI. Names are Cinder's where
 * Cinder has the rule (its policy.yaml keys); `qcowshare:` names are this product's extensions.
 *
 * Project scope is not per rule: every caller acts on its own project, except those the
 * `qcowshare:cross_project` rule admits (admins, and services acting for any tenant).
 */
import { StorageError } from '../../lib/core/errors.js';
import type { SnapshotActionSchemas, VolumeActionSchemas } from './validation/actions.js';

export type Role = 'admin' | 'member' | 'reader' | 'service';
export const ROLES: readonly Role[] = ['admin', 'member', 'reader', 'service'];

/** Who is calling, after authentication. */
export interface Caller {
  userId: string;
  projectId: string;
  roles: ReadonlySet<Role>;
  /** The compute host a service token is bound to (api.tokens[..].host); absent for every other caller. */
  host?: string;
}

export interface PolicyRule {
  /** Roles any one of which admits the caller; null = public (no authentication at all). */
  roles: readonly Role[] | null;
  description: string;
}

/** Cinder's reader role: read-only, in its own project. */
const READ: readonly Role[] = ['admin', 'member', 'reader', 'service'];
const WRITE: readonly Role[] = ['admin', 'member', 'service'];
const ADMIN: readonly Role[] = ['admin'];
const SERVICE: readonly Role[] = ['service'];

export const POLICY = {
  'qcowshare:public': { roles: null, description: 'Version documents, liveness, readiness (status and counts) and the OpenAPI document' },
  'volume:get_all': { roles: READ, description: 'List volumes' },
  'volume:get': { roles: READ, description: 'Show a volume' },
  'volume:create': { roles: WRITE, description: 'Create a volume' },
  'volume:update': { roles: WRITE, description: 'Update a volume' },
  'volume:delete': { roles: WRITE, description: 'Delete a volume' },
  'volume:get_volume_metadata': { roles: READ, description: 'Show the metadata of a volume (all items or one key)' },
  'volume:create_volume_metadata': { roles: WRITE, description: 'Add or change metadata items of a volume (merge)' },
  'volume:update_volume_metadata': { roles: WRITE, description: 'Replace all metadata of a volume, or set one key' },
  'volume:delete_volume_metadata': { roles: WRITE, description: 'Delete one metadata item of a volume' },
  'volume:get_volume_summary': { roles: READ, description: 'Summary (count, size, metadata) of the volumes' },
  'qcowshare:volume:get_tree': { roles: READ, description: 'Show the snapshot tree of a volume' },
  'qcowshare:volume:export': { roles: WRITE, description: 'Export a volume with its snapshot tree (os-export; holds its lease while streaming)' },
  'qcowshare:volume:import': { roles: WRITE, description: 'Import a volume with its snapshot tree from an archive (os-volume-import)' },
  'qcowshare:volume:export_to_share': { roles: ADMIN, description: 'os-export-to-share: write the export archive to a file on a share (an operation)' },
  'qcowshare:volume:import_from_share': { roles: ADMIN, description: 'Import a volume from an export archive file on a share (os-volume-import-from-share)' },
  'qcowshare:instance:export': { roles: ADMIN, description: 'Export a shut-off instance with its volumes and checkpoints as one archive (os-instances/{uuid}/os-export)' },
  'qcowshare:instance:import': { roles: ADMIN, description: 'Import an instance archive: new volumes, checkpoint rows and files (os-instance-import)' },
  'qcowshare:instance:define': { roles: ADMIN, description: 'Define an imported instance stopped on a registered compute host, its volumes attached there (os-instances/{uuid}/action os-define)' },
  'qcowshare:volume:action': { roles: WRITE, description: 'Post a volume action (each action has its own rule too)' },
  'volume:extend': { roles: WRITE, description: 'os-extend' },
  'volume_extension:volume_admin_actions:reset_status': { roles: ADMIN, description: 'os-reset_status of a volume' },
  'volume_extension:volume_admin_actions:force_delete': { roles: ADMIN, description: 'os-force_delete of a volume' },
  'volume_extension:volume_actions:initialize_connection': { roles: WRITE, description: 'os-initialize_connection' },
  'volume_extension:volume_actions:terminate_connection': { roles: WRITE, description: 'os-terminate_connection' },
  'volume_extension:volume_actions:attach': { roles: WRITE, description: 'os-attach' },
  'volume_extension:volume_actions:detach': { roles: WRITE, description: 'os-detach' },
  'volume_extension:volume_actions:reserve': { roles: WRITE, description: 'os-reserve' },
  'volume_extension:volume_actions:unreserve': { roles: WRITE, description: 'os-unreserve' },
  'volume_extension:volume_actions:begin_detaching': { roles: WRITE, description: 'os-begin_detaching' },
  'volume_extension:volume_actions:roll_detaching': { roles: WRITE, description: 'os-roll_detaching' },
  // The attachments API (3.27+): Cinder's names; the connector's host must be registered (os-compute-hosts).
  'volume:attachment_create': { roles: WRITE, description: 'Create (reserve) an attachment' },
  'volume:attachment_get_all': { roles: READ, description: 'List attachments' },
  'volume:attachment_get': { roles: READ, description: 'Show an attachment' },
  'volume:attachment_update': { roles: WRITE, description: "Update an attachment with a host's connector (returns connection_info)" },
  'volume:attachment_complete': { roles: WRITE, description: 'os-complete of an attachment (3.44)' },
  'volume:attachment_delete': { roles: WRITE, description: 'Delete (detach) an attachment' },
  'volume:revert_to_snapshot': { roles: WRITE, description: 'revert, os-revert_to_snapshot' },
  'qcowshare:snapshot_metadata:create': { roles: SERVICE, description: 'os-create_snapshot_metadata (compute-initiated snapshot)' },
  'volume:get_all_snapshots': { roles: READ, description: 'List snapshots' },
  'volume:get_snapshot': { roles: READ, description: 'Show a snapshot' },
  'volume:create_snapshot': { roles: WRITE, description: 'Create a snapshot' },
  'volume:update_snapshot': { roles: WRITE, description: 'Update a snapshot' },
  'volume:delete_snapshot': { roles: WRITE, description: 'Delete a snapshot' },
  'qcowshare:snapshot:delete_preview': { roles: READ, description: 'Show what deleting a snapshot would do (changes nothing)' },
  'volume:get_snapshot_metadata': { roles: READ, description: 'Show the metadata of a snapshot (all items or one key)' },
  'volume:update_snapshot_metadata': { roles: WRITE, description: 'Add, change or replace metadata items of a snapshot' },
  'volume:delete_snapshot_metadata': { roles: WRITE, description: 'Delete one metadata item of a snapshot' },
  'qcowshare:snapshot:action': { roles: WRITE, description: 'Post a snapshot action (each action has its own rule too)' },
  'volume_extension:snapshot_admin_actions:reset_status': { roles: ADMIN, description: 'os-reset_status of a snapshot' },
  'volume_extension:snapshot_admin_actions:force_delete': { roles: ADMIN, description: 'os-force_delete of a snapshot' },
  // Cinder lets any member post this, so a member could fake Nova's "done": here only services.
  'snapshot_extension:snapshot_actions:update_snapshot_status': { roles: SERVICE, description: 'os-update_snapshot_status' },
  'qcowshare:snapshot_metadata:request_commit': { roles: SERVICE, description: 'os-request_commit' },
  'qcowshare:snapshot_metadata:finalize': { roles: SERVICE, description: 'os-finalize_snapshot_metadata' },
  'qcowshare:snapshot_metadata:delete': { roles: ['admin', 'service'], description: 'os-delete_snapshot_metadata' },
  'volume_extension:availability_zone_list': { roles: READ, description: 'List availability zones' },
  'scheduler_extension:scheduler_stats:get_pools': { roles: ADMIN, description: 'List pools (one per share) with their capacity' },
  'volume_extension:services:index': { roles: ADMIN, description: 'List services (this storage service and the registered coordinators)' },
  // User messages (Cinder's /messages): a member's project's, an admin's any; written only by the service.
  'message:get_all': { roles: READ, description: 'List user messages (why asynchronous operations failed)' },
  'message:get': { roles: READ, description: 'Show a user message' },
  'message:delete': { roles: WRITE, description: 'Delete a user message' },
  // Volume types (Cinder's rule names): members read public types; admins manage them.
  'volume_extension:type_get_all': { roles: READ, description: 'List volume types (private ones: admins only)' },
  'volume_extension:type_get': { roles: READ, description: 'Show a volume type (and the default type)' },
  'volume_extension:type_create': { roles: ADMIN, description: 'Create a volume type' },
  'volume_extension:type_delete': { roles: ADMIN, description: 'Delete a volume type' },
  'volume_extension:type_update': { roles: ADMIN, description: 'Update a volume type (name, description, is_public)' },
  'volume_extension:volume_type_access:get_all_for_type': { roles: ADMIN, description: 'List the projects given access to a private volume type' },
  'volume_extension:volume_type_access:project_access': { roles: ADMIN, description: 'addProjectAccess / removeProjectAccess of a private volume type' },
  'volume_extension:types_extra_specs:index': { roles: READ, description: 'List the extra specs of a volume type' },
  'volume_extension:types_extra_specs:show': { roles: READ, description: 'Show one extra spec of a volume type' },
  'volume_extension:types_extra_specs:create': { roles: ADMIN, description: 'Set extra specs of a volume type' },
  'volume_extension:types_extra_specs:update': { roles: ADMIN, description: 'Set one extra spec of a volume type' },
  'volume_extension:types_extra_specs:delete': { roles: ADMIN, description: 'Unset one extra spec of a volume type' },
  // Quotas: a member reads its own project's (the route checks the project), admins set any.
  'volume_extension:quotas:show': { roles: READ, description: "Show a project's quotas, usage and defaults (own project; admins any)" },
  'volume_extension:quotas:update': { roles: ADMIN, description: "Set a project's quotas" },
  'volume_extension:quotas:delete': { roles: ADMIN, description: "Reset a project's quotas to the defaults" },
  'limits_extension:used_limits': { roles: READ, description: "Absolute limits and usage of the caller's project" },
  'qcowshare:operation:get_all': { roles: READ, description: 'List operations' },
  'qcowshare:operation:get': { roles: READ, description: 'Show an operation' },
  // For the manage routes and the os-unmanage action (Cinder's names; admin only, as in Cinder).
  'volume_extension:volume_manage': { roles: ADMIN, description: 'Adopt an existing file as a volume (manageable_volumes, os-volume-manage)' },
  'volume_extension:list_manageable': { roles: ADMIN, description: 'List what could be adopted on each share' },
  'volume_extension:volume_unmanage': { roles: ADMIN, description: 'os-unmanage' },
  // The registry of compute hosts: a service token bound to a host may also show and register that
  // host only (usecases/compute-hosts.ts checks the binding).
  'qcowshare:compute_host:get_all': { roles: ADMIN, description: 'List registered compute hosts' },
  'qcowshare:compute_host:get': { roles: ['admin', 'service'], description: 'Show a compute host (a service token: its own host only)' },
  'qcowshare:compute_host:register': { roles: ['admin', 'service'], description: 'Register or update a compute host (a service token: its own host only)' },
  'qcowshare:compute_host:delete': { roles: ADMIN, description: 'Remove a compute host from the registry' },
  // Checkpoints of instances (os-checkpoints): the instance's host is found from the project's attachments.
  'qcowshare:checkpoint:get_all': { roles: READ, description: 'List checkpoints' },
  'qcowshare:checkpoint:get': { roles: READ, description: 'Show a checkpoint' },
  'qcowshare:checkpoint:create': { roles: WRITE, description: 'Take a checkpoint of an instance (memory + volumes)' },
  'qcowshare:checkpoint:delete': { roles: WRITE, description: 'Delete a checkpoint' },
  'qcowshare:checkpoint:revert': { roles: WRITE, description: 'Revert an instance to a checkpoint (action revert)' },
  // The probes answer everyone with a status; the host's layout (share addresses, mount points, reasons) is an admin's.
  'qcowshare:health:detail': { roles: ADMIN, description: 'The full readiness report (GET /readyz: each share\'s address, mount point and reason) and GET /metrics with an API token' },
  'qcowshare:os_check': { roles: ADMIN, description: 'Consistency check (and safe repairs) of the database, info files, shares and hosts' },
  'qcowshare:cross_project': { roles: ['admin', 'service'], description: "Act on other projects' resources (path project, all_tenants, lookups)" },
  'qcowshare:snapshot:include_hidden': { roles: ['admin', 'service'], description: 'See hidden snapshots' },
} as const satisfies Record<string, PolicyRule>;

export type PolicyName = keyof typeof POLICY;

export const VOLUME_ACTION_POLICY: Record<keyof VolumeActionSchemas, PolicyName> = {
  'os-extend': 'volume:extend',
  'os-reset_status': 'volume_extension:volume_admin_actions:reset_status',
  'os-force_delete': 'volume_extension:volume_admin_actions:force_delete',
  'os-initialize_connection': 'volume_extension:volume_actions:initialize_connection',
  'os-terminate_connection': 'volume_extension:volume_actions:terminate_connection',
  'os-attach': 'volume_extension:volume_actions:attach',
  'os-detach': 'volume_extension:volume_actions:detach',
  'os-reserve': 'volume_extension:volume_actions:reserve',
  'os-unreserve': 'volume_extension:volume_actions:unreserve',
  'os-begin_detaching': 'volume_extension:volume_actions:begin_detaching',
  'os-roll_detaching': 'volume_extension:volume_actions:roll_detaching',
  revert: 'volume:revert_to_snapshot',
  'os-revert_to_snapshot': 'volume:revert_to_snapshot',
  'os-create_snapshot_metadata': 'qcowshare:snapshot_metadata:create',
  'os-unmanage': 'volume_extension:volume_unmanage',
  'os-export-to-share': 'qcowshare:volume:export_to_share',
};

export const SNAPSHOT_ACTION_POLICY: Record<keyof SnapshotActionSchemas, PolicyName> = {
  'os-reset_status': 'volume_extension:snapshot_admin_actions:reset_status',
  'os-force_delete': 'volume_extension:snapshot_admin_actions:force_delete',
  'os-update_snapshot_status': 'snapshot_extension:snapshot_actions:update_snapshot_status',
  'os-request_commit': 'qcowshare:snapshot_metadata:request_commit',
  'os-finalize_snapshot_metadata': 'qcowshare:snapshot_metadata:finalize',
  'os-delete_snapshot_metadata': 'qcowshare:snapshot_metadata:delete',
};

export function allows(caller: Caller | undefined, name: PolicyName): boolean {
  const roles: readonly Role[] | null = POLICY[name].roles;
  if (roles === null) return true;
  return caller !== undefined && roles.some((r) => caller.roles.has(r));
}

/** Throws FORBIDDEN naming the rule when the caller's roles do not satisfy it. */
export function authorize(caller: Caller | undefined, name: PolicyName): void {
  if (allows(caller, name)) return;
  const required = POLICY[name].roles ?? [];
  throw new StorageError('FORBIDDEN', `policy ${name} needs role ${required.join(' or ')}`, { details: { policy: name, required } });
}
