/** POST /v3/{project_id}/volumes/{id}/action: one action per body, each with its own schema and policy rule. */
import type { Request, Response } from 'express';
import { StorageError } from '../../../lib/core/errors.js';
import type { VolumeRecord } from '../../db/records.js';
import { callerOf, scopedProject } from '../auth.js';
import type { Caller, ServiceDeps } from '../context.js';
import { authorize, VOLUME_ACTION_POLICY } from '../policy.js';
import { resetVolumeStatus } from '../usecases/admin.js';
import { visibleSnapshot, visibleVolume } from '../usecases/lookup.js';
import { createSnapshotMetadata } from '../usecases/snapshot-metadata/create.js';
import { attachVolume, detachVolume, initializeConnection, reserveVolume, stepVolumeAttachment, terminateConnection } from '../usecases/volume-attach.js';
import { deleteVolume } from '../usecases/volume-delete.js';
import { unmanageVolume } from '../usecases/unmanage-volume.js';
import { extendVolume } from '../usecases/volume-extend.js';
import { exportToShare } from '../usecases/volume-export-to-share.js';
import { revertVolume } from '../usecases/volume-revert.js';
import { assertMicroversion } from '../microversions/negotiate.js';
import { actionSince } from '../microversions/version.js';
import { UNSUPPORTED_VOLUME_ACTIONS } from '../validation/unsupported-actions.js';
import { actionNameOf, parseAction, volumeActions, type VolumeActionSchemas } from '../validation/actions.js';
import { noQuery, pathIds } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { operationView } from '../views/operation-view.js';
import { snapshotDetail } from '../views/snapshot-view.js';
import type { RouteDef } from './route.js';

type Action = ReturnType<typeof parseAction<VolumeActionSchemas>>;
type Ctx = { deps: ServiceDeps; req: Request; res: Response; caller: Caller; vol: VolumeRecord };

function accepted(res: Response, operationId: string): void {
  res.status(202).set('x-operation-id', operationId).end();
}

async function dispatch(a: Action, { deps, req, res, caller, vol }: Ctx): Promise<void> {
  switch (a.name) {
    case 'os-extend':
      return accepted(res, (await extendVolume(deps, vol, a.args.new_size)).id);
    case 'os-reset_status':
      await resetVolumeStatus(deps, vol, a.args.status, a.args.attach_status);
      return void res.status(202).end();
    case 'os-force_delete':
      return accepted(res, (await deleteVolume(deps, vol, { cascade: false, force: true })).id);
    case 'os-unmanage':
      await unmanageVolume(deps, vol);
      return void res.status(202).end();
    case 'os-initialize_connection':
      return void res.json({ connection_info: await initializeConnection(deps, caller, vol, a.args.connector) });
    case 'os-terminate_connection':
      await terminateConnection(deps, vol, a.args.connector);
      return void res.status(202).end();
    case 'os-attach':
      await attachVolume(deps, caller, vol, {
        instanceUuid: a.args.instance_uuid ?? null, mountpoint: a.args.mountpoint, hostName: a.args.host_name ?? null,
        coordinatorEndpoint: a.args.coordinator_endpoint ?? null, activeFile: a.args.active_file ?? null, format: a.args.format ?? null,
      });
      return void res.status(202).end();
    case 'os-detach':
      await detachVolume(deps, vol, a.args?.attachment_id ?? null);
      return void res.status(202).end();
    case 'os-reserve':
      await reserveVolume(deps, vol);
      return void res.status(202).end();
    case 'os-unreserve':
      await stepVolumeAttachment(deps, vol, 'unreserve');
      return void res.status(202).end();
    case 'os-begin_detaching':
      await stepVolumeAttachment(deps, vol, 'begin_detach');
      return void res.status(202).end();
    case 'os-roll_detaching':
      await stepVolumeAttachment(deps, vol, 'roll_detach');
      return void res.status(202).end();
    case 'revert':
    case 'os-revert_to_snapshot': {
      const snap = await visibleSnapshot(deps, caller, a.args.snapshot_id);
      return accepted(res, (await revertVolume(deps, vol, snap, a.name === 'revert' ? 'latest_only' : 'any')).id);
    }
    case 'os-create_snapshot_metadata': {
      const g = await createSnapshotMetadata(deps, caller, vol, {
        snapshotId: a.args.snapshot_id, name: a.args.name ?? null, description: a.args.description ?? null, metadata: a.args.metadata ?? {},
      });
      return void res.status(202).json({
        snapshot: snapshotDetail(req, g.snapshot, true),
        snapshot_metadata: {
          snapshot_id: g.snapshot.id, volume_id: vol.id, new_file: g.newFile, expected_top: g.expectedTop, status: 'creating',
          operation_id: g.operation.id, fencing_token: g.operation.fencingToken,
          lease_expires_at: g.leaseExpiresAt === null ? null : new Date(g.leaseExpiresAt).toISOString(),
        },
        operation: operationView(g.operation),
      });
    }
    case 'os-export-to-share':
      return accepted(res, (await exportToShare(deps, caller, vol, { share: a.args.share, name: a.args.name }, a.args.since ?? null)).id);
    default:
      throw new StorageError('INVALID_INPUT', 'unknown action');
  }
}

export function volumeActionRoutes(deps: ServiceDeps): RouteDef[] {
  const schemas = volumeActions(deps.config.storage.maxVolumeSizeGiB);
  return [{
    method: 'post', path: '/volumes/:volume_id/action', versioned: true, policy: 'qcowshare:volume:action', status: 202,
    summary: `Volume actions: ${Object.keys(schemas).join(', ')}`,
    handler: async (req, res) => {
      const { volume_id } = parse(pathIds.volume, req.params, 'path');
      parse(noQuery, req.query, 'query');
      const caller = callerOf(req);
      authorize(caller, VOLUME_ACTION_POLICY[actionNameOf(schemas, req.body, UNSUPPORTED_VOLUME_ACTIONS)]);
      const action = parseAction(schemas, req.body, UNSUPPORTED_VOLUME_ACTIONS);
      assertMicroversion(res, actionSince(action.name), `action ${action.name}`);
      scopedProject(req);
      const vol = await visibleVolume(deps, caller, volume_id);
      await dispatch(action, { deps, req, res, caller, vol });
    },
  }];
}
