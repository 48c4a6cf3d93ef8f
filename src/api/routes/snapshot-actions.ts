/**
 * POST /v3/{project_id}/snapshots/{id}/action. Who may post which action: policy.ts (status
 * reports and snapshot metadata for services only, resets and force-deletes for admins only).
 */
import type { Request, Response } from 'express';
import { StorageError } from '../../../lib/core/errors.js';
import type { SnapshotRecord } from '../../db/records.js';
import { callerOf, scopedProject } from '../auth.js';
import type { Caller, ServiceDeps } from '../context.js';
import { authorize, SNAPSHOT_ACTION_POLICY } from '../policy.js';
import { resetSnapshotStatus } from '../usecases/admin.js';
import { visibleSnapshot, visibleVolume } from '../usecases/lookup.js';
import { deleteSnapshot } from '../usecases/snapshot-delete.js';
import { requestCommit, reportProgress } from '../usecases/snapshot-metadata/commit.js';
import { finalizeSnapshotMetadata } from '../usecases/snapshot-metadata/finalize.js';
import { forgetSnapshotMetadata } from '../usecases/snapshot-metadata/forget.js';
import { driverPlannedOperation } from '../usecases/snapshot-metadata/planned-report.js';
import { updateSnapshotStatusCinder } from '../usecases/snapshot-status.js';
import { UNSUPPORTED_SNAPSHOT_ACTIONS } from '../validation/unsupported-actions.js';
import { actionNameOf, parseAction, snapshotActions } from '../validation/actions.js';
import { noQuery, pathIds } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { operationView } from '../views/operation-view.js';
import type { RouteDef } from './route.js';

type Action = ReturnType<typeof parseAction<typeof snapshotActions>>;
type Ctx = { deps: ServiceDeps; req: Request; res: Response; caller: Caller; snap: SnapshotRecord };

async function statusUpdate(a: Extract<Action, { name: 'os-update_snapshot_status' }>, { deps, res, snap }: Ctx): Promise<void> {
  const u = a.args;
  if (!('operation_id' in u)) {
    await updateSnapshotStatusCinder(deps, snap, u.status, u.progress);
    return void res.status(202).end();
  }
  if (u.status === 'running') {
    return void res.json({ operation: operationView(await reportProgress(deps, snap, u.operation_id, u.fencing_token, u.progress)) });
  }
  if (u.status === 'committed') {
    return void res.json({ operation: operationView(await requestCommit(deps, snap, u.operation_id, u.fencing_token)) });
  }
  const planned = await driverPlannedOperation(deps, snap, u.operation_id, u.fencing_token);
  if (planned) return void res.json({ operation: operationView(planned) });
  const vol = await deps.repos.volumes.get(snap.volumeId);
  if (!vol) throw new StorageError('VOLUME_NOT_FOUND', `volume ${snap.volumeId} could not be found`);
  const op = await finalizeSnapshotMetadata(deps, vol, snap, {
    operationId: u.operation_id, fencingToken: u.fencing_token, status: u.status === 'completed' ? 'available' : 'error',
    activeFile: u.active_file, format: u.format, error: u.error,
  });
  res.json({ operation: operationView(op) });
}

async function dispatch(a: Action, ctx: Ctx): Promise<void> {
  const { deps, res, caller, snap } = ctx;
  switch (a.name) {
    case 'os-reset_status':
      await resetSnapshotStatus(deps, snap, a.args.status);
      return void res.status(202).end();
    case 'os-force_delete': {
      const vol = await visibleVolume(deps, caller, snap.volumeId);
      const op = await deleteSnapshot(deps, vol, snap, true);
      return void res.status(202).set('x-operation-id', op.id).end();
    }
    case 'os-update_snapshot_status':
      return statusUpdate(a, ctx);
    case 'os-request_commit':
      return void res.json({ commit: { granted: true }, operation: operationView(await requestCommit(deps, snap, a.args.operation_id, a.args.fencing_token)) });
    case 'os-finalize_snapshot_metadata': {
      const vol = await visibleVolume(deps, caller, snap.volumeId);
      const op = await finalizeSnapshotMetadata(deps, vol, snap, {
        operationId: a.args.operation_id, fencingToken: a.args.fencing_token, status: a.args.status,
        activeFile: a.args.active_file, format: a.args.format, error: a.args.error,
      });
      return void res.json({ operation: operationView(op) });
    }
    case 'os-delete_snapshot_metadata':
      await forgetSnapshotMetadata(deps, snap);
      return void res.status(202).end();
    default:
      throw new StorageError('INVALID_INPUT', 'unknown action');
  }
}

export function snapshotActionRoutes(deps: ServiceDeps): RouteDef[] {
  return [{
    method: 'post', path: '/snapshots/:snapshot_id/action', versioned: true, policy: 'qcowshare:snapshot:action', status: 202,
    summary: `Snapshot actions: ${Object.keys(snapshotActions).join(', ')}`,
    handler: async (req, res) => {
      const { snapshot_id } = parse(pathIds.snapshot, req.params, 'path');
      parse(noQuery, req.query, 'query');
      const caller = callerOf(req);
      authorize(caller, SNAPSHOT_ACTION_POLICY[actionNameOf(snapshotActions, req.body, UNSUPPORTED_SNAPSHOT_ACTIONS)]);
      const action = parseAction(snapshotActions, req.body, UNSUPPORTED_SNAPSHOT_ACTIONS);
      scopedProject(req);
      await dispatch(action, { deps, req, res, caller, snap: await visibleSnapshot(deps, caller, snapshot_id) });
    },
  }];
}
