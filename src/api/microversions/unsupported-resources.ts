/**
 * Cinder v3 resources this service does not serve, answered 501 NOT_IMPLEMENTED with the reason
 * (after authentication) instead of 404 "no route": a client learns "not here, and why", and no
 * route that the advertised microversion promises answers 404. Mounted after the route table, so
 * a resource that gets routes of its own (attachments, types, quotas) is served by them.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { StorageError } from '../../../lib/core/errors.js';

export const REASONS = {
  backups: 'backups are not part of this service: copy a volume with os-export / os-volume-import',
  groups: 'generic volume groups and consistency groups are not supported',
  clusters: 'this service has no clusters: each storage-service process is a service of its own (os-services)',
  transfers: 'volume transfers between projects are not supported',
  workers: 'crash recovery runs by itself at start and periodically; there is nothing to clean up by request',
  filters: 'the filters of each list are fixed (documented in the OpenAPI document)',
  defaultTypes: 'per-project default volume types are not supported: the default type is __DEFAULT__ for every project',
  quotaClasses: 'quota classes are not supported: quotas are per project (os-quota-sets), their defaults from the configuration (quotas)',
  qos: 'QoS specs are not supported',
  encryption: 'volume encryption is not supported',
} as const;

/** First path segment below /v3 (or /v3/{project_id}) → reason. */
export const UNSUPPORTED_RESOURCES: Readonly<Record<string, string>> = {
  backups: REASONS.backups,
  groups: REASONS.groups, group_types: REASONS.groups, group_snapshots: REASONS.groups, consistencygroups: REASONS.groups, cgsnapshots: REASONS.groups,
  clusters: REASONS.clusters,
  'os-volume-transfer': REASONS.transfers, 'volume-transfers': REASONS.transfers,
  workers: REASONS.workers,
  resource_filters: REASONS.filters,
  'default-types': REASONS.defaultTypes,
  'os-quota-class-sets': REASONS.quotaClasses,
  'qos-specs': REASONS.qos,
  snapshots_manage: 'snapshots are managed with their volume (manageable_volumes)',
  manageable_snapshots: 'snapshots are managed with their volume (manageable_volumes)',
  extensions: 'the extensions list is not served: the OpenAPI document (/openapi.json) lists every route',
  'os-hosts': 'hosts are listed by os-services',
  'os-backup-services': REASONS.backups,
  'os-services/set-log': 'log levels come from the configuration file (log.level)',
  'os-services/get-log': 'log levels come from the configuration file (log.level)',
};

/**
 * The unsupported resource a path names, or undefined: `/v3/backups` and `/v3/{project}/backups`
 * alike; a key of two segments (`os-services/set-log`) refuses one sub-path of a served resource.
 */
export function unsupportedResourceOf(path: string): string | undefined {
  const segments = path.split('/').filter((x) => x !== '');
  if (segments[0] !== 'v3') return undefined;
  // Own keys only: `/v3/toString` must not find Object.prototype's member (a 501 for a path no one serves).
  const listed = (key: string | undefined): key is string => key !== undefined && Object.hasOwn(UNSUPPORTED_RESOURCES, key);
  for (const start of [1, 2]) {
    const two = segments.slice(start, start + 2).join('/');
    if (listed(two)) return two;
    const one = segments[start];
    if (listed(one)) return one;
  }
  return undefined;
}

/** Express 5 forwards a rejected middleware to the error handler: an unauthenticated caller gets 401 first. */
export function refuseUnsupportedResources(authenticate: (req: Request, res: Response, next: NextFunction) => Promise<void>): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const resource = unsupportedResourceOf(req.path);
    if (resource === undefined) return next();
    await authenticate(req, res, () => undefined);
    throw new StorageError('NOT_IMPLEMENTED', `${resource} is not supported by this service: ${UNSUPPORTED_RESOURCES[resource] ?? ''}`, { details: { resource } });
  };
}
