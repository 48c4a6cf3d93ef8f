/**
 * /v3/{project_id}/volumes/{id}/metadata and /snapshots/{id}/metadata: Cinder's metadata
 * sub-resources. The set answers with an ETag; a write carrying If-Match (cinder's `metadata unset`
 * at 3.15+) is refused with 412 when the set changed since.
 */
import type { Request, Response } from 'express';
import { StorageError } from '../../../lib/core/errors.js';
import { callerOf, scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import type { PolicyName } from '../policy.js';
import { applyMetadata, type MetadataOwner } from '../usecases/metadata/apply.js';
import { metadataEtag, type Metadata, type MetadataChange } from '../usecases/metadata/plan.js';
import { visibleSnapshot, visibleVolume } from '../usecases/lookup.js';
import { noQuery, pathIds } from '../validation/common.js';
import { metadataBody, metadataKeyOf, metaItemBody } from '../validation/metadata.js';
import { parse } from '../validation/parse.js';
import type { RouteDef } from './route.js';

interface Kind {
  kind: MetadataOwner['kind'];
  base: string;
  policy: { get: PolicyName; create: PolicyName; update: PolicyName; delete: PolicyName };
}

const KINDS: Kind[] = [
  { kind: 'volume', base: '/volumes/:volume_id', policy: { get: 'volume:get_volume_metadata', create: 'volume:create_volume_metadata', update: 'volume:update_volume_metadata', delete: 'volume:delete_volume_metadata' } },
  // Cinder checks update_snapshot_metadata for the merge (POST) too.
  { kind: 'snapshot', base: '/snapshots/:snapshot_id', policy: { get: 'volume:get_snapshot_metadata', create: 'volume:update_snapshot_metadata', update: 'volume:update_snapshot_metadata', delete: 'volume:delete_snapshot_metadata' } },
];

function metadataRoutesOf(deps: ServiceDeps, k: Kind): RouteDef[] {
  /** The visible owner (404 otherwise) and its current items. */
  const owner = async (req: Request): Promise<{ owner: MetadataOwner; metadata: Metadata }> => {
    parse(noQuery, req.query, 'query');
    const { project_id, key: _key, ...ids } = req.params as Record<string, string>;
    void _key;
    scopedProject(req);
    const caller = callerOf(req);
    if (k.kind === 'volume') {
      const { volume_id } = parse(pathIds.volume, { project_id, ...ids }, 'path');
      const v = await visibleVolume(deps, caller, volume_id);
      return { owner: { kind: 'volume', id: v.id }, metadata: v.metadata };
    }
    const { snapshot_id } = parse(pathIds.snapshot, { project_id, ...ids }, 'path');
    const s = await visibleSnapshot(deps, caller, snapshot_id);
    return { owner: { kind: 'snapshot', id: s.id }, metadata: s.metadata };
  };
  const write = async (req: Request, change: MetadataChange, o: MetadataOwner): Promise<Metadata> =>
    applyMetadata(deps, o, change, req.get('if-match'));
  const sendSet = (res: Response, m: Metadata) => { res.set('ETag', metadataEtag(m)).json({ metadata: m }); };
  const missing = (o: MetadataOwner, key: string) =>
    new StorageError('METADATA_KEY_NOT_FOUND', `${o.kind} ${o.id} has no metadata with key ${JSON.stringify(key)}`, { details: { key } });
  const p = `${k.base}/metadata`;
  return [
    {
      method: 'get', path: p, versioned: true, policy: k.policy.get, status: 200, summary: `Show the metadata of a ${k.kind} (with an ETag)`,
      handler: async (req, res) => { sendSet(res, (await owner(req)).metadata); },
    },
    {
      method: 'post', path: p, versioned: true, policy: k.policy.create, status: 200, summary: `Add or change metadata items of a ${k.kind} (merge); answers the whole set`,
      handler: async (req, res) => {
        const { metadata } = parse(metadataBody, req.body, 'body');
        const o = await owner(req);
        sendSet(res, await write(req, { kind: 'merge', items: metadata }, o.owner));
      },
    },
    {
      method: 'put', path: p, versioned: true, policy: k.policy.update, status: 200, summary: `Replace all metadata of a ${k.kind} (honours If-Match)`,
      handler: async (req, res) => {
        const { metadata } = parse(metadataBody, req.body, 'body');
        const o = await owner(req);
        sendSet(res, await write(req, { kind: 'replace', items: metadata }, o.owner));
      },
    },
    {
      method: 'get', path: `${p}/:key`, versioned: true, policy: k.policy.get, status: 200, summary: `Show one metadata item of a ${k.kind}`,
      handler: async (req, res) => {
        const key = metadataKeyOf(req.params.key);
        const o = await owner(req);
        if (!Object.prototype.hasOwnProperty.call(o.metadata, key)) throw missing(o.owner, key);
        res.json({ meta: { [key]: o.metadata[key] } });
      },
    },
    {
      method: 'put', path: `${p}/:key`, versioned: true, policy: k.policy.update, status: 200, summary: `Set one metadata item of a ${k.kind} (the body's key must be the path's)`,
      handler: async (req, res) => {
        const key = metadataKeyOf(req.params.key);
        const { meta } = parse(metaItemBody, req.body, 'body');
        const [bodyKey, value] = Object.entries(meta)[0] as [string, string];
        if (bodyKey !== key) {
          throw new StorageError('INVALID_INPUT', `invalid body: meta: the key ${JSON.stringify(bodyKey)} is not the path's key ${JSON.stringify(key)}`, {
            details: { fields: [{ path: 'body.meta', message: 'key must match the path' }] },
          });
        }
        const o = await owner(req);
        const next = await write(req, { kind: 'set-key', key, value }, o.owner);
        res.json({ meta: { [key]: next[key] } });
      },
    },
    {
      method: 'delete', path: `${p}/:key`, versioned: true, policy: k.policy.delete, status: 200, summary: `Delete one metadata item of a ${k.kind}`,
      handler: async (req, res) => {
        const key = metadataKeyOf(req.params.key);
        const o = await owner(req);
        await write(req, { kind: 'delete-key', key }, o.owner);
        res.status(200).end();
      },
    },
  ];
}

export function metadataRoutes(deps: ServiceDeps): RouteDef[] {
  return KINDS.flatMap((k) => metadataRoutesOf(deps, k));
}
