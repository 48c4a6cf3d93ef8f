/**
 * The console's state-changing forms. Each one asks first: a POST without confirm=yes renders
 * what would happen (for a revert that shrinks the volume, a warning; for a snapshot delete, the
 * delete preview) and a Confirm button; with confirm=yes it runs the same use case as the API
 * route, after the same policy rules (the route's and, for actions, the action's).
 */
import { z } from 'zod';
import type { Request } from 'express';
import type { Caller, ServiceDeps } from '../api/context.js';
import { authorize } from '../api/policy.js';
import { visibleSnapshot, visibleVolume } from '../api/usecases/lookup.js';
import { createSnapshot } from '../api/usecases/snapshot-create.js';
import { deleteSnapshot } from '../api/usecases/snapshot-delete.js';
import { previewSnapshotDelete } from '../api/usecases/snapshot-delete-preview.js';
import { deleteVolume } from '../api/usecases/volume-delete.js';
import { extendVolume } from '../api/usecases/volume-extend.js';
import { revertVolume } from '../api/usecases/volume-revert.js';
import { uuid } from '../api/validation/common.js';
import { parse } from '../api/validation/parse.js';
import { shortId } from './format.js';

/** Either the question to confirm, or where to go once the operation started. */
export type ActionOutcome =
  | { kind: 'confirm'; title: string; question: string; warnings: string[]; fields: Record<string, string>; back: string }
  | { kind: 'done'; redirect: string };

const confirmed = (req: Request): boolean => req.body?.confirm === 'yes';
const started = (operationId: string): ActionOutcome => ({ kind: 'done', redirect: `/console/operations#op-${operationId}` });

const snapshotForm = z.object({ name: z.string().max(255).optional() });
const revertForm = z.object({ snapshot_id: uuid });
const extendForm = (maxGiB: number) => z.object({ new_size: z.coerce.number().int().min(1).max(maxGiB) });

export async function snapshotAction(deps: ServiceDeps, caller: Caller, req: Request, volumeId: string): Promise<ActionOutcome> {
  authorize(caller, 'volume:create_snapshot');
  const { name } = parse(snapshotForm, req.body, 'body');
  const vol = await visibleVolume(deps, caller, volumeId);
  const label = name && name.trim() !== '' ? name.trim() : null;
  if (!confirmed(req)) {
    return { kind: 'confirm', title: 'Take a snapshot', question: `Take snapshot ${label ?? '(unnamed)'} of volume ${vol.name ?? shortId(vol.id)}?`, warnings: [], fields: { name: label ?? '' }, back: `/console/volumes/${vol.id}` };
  }
  const { operation } = await createSnapshot(deps, caller, vol, { name: label, description: null, metadata: {}, force: false });
  return started(operation.id);
}

export async function revertAction(deps: ServiceDeps, caller: Caller, req: Request, volumeId: string): Promise<ActionOutcome> {
  authorize(caller, 'qcowshare:volume:action');
  authorize(caller, 'volume:revert_to_snapshot');
  const { snapshot_id } = parse(revertForm, req.body, 'body');
  const vol = await visibleVolume(deps, caller, volumeId);
  const snap = await visibleSnapshot(deps, caller, snapshot_id);
  if (!confirmed(req)) {
    const warnings = snap.sizeGiB < vol.sizeGiB
      ? [`The volume shrinks from ${vol.sizeGiB} GiB to ${snap.sizeGiB} GiB: data written beyond ${snap.sizeGiB} GiB since the snapshot is lost, and a file system that grew with the volume will not fit.`]
      : [];
    return {
      kind: 'confirm', title: 'Revert the volume', question: `Revert volume ${vol.name ?? shortId(vol.id)} to snapshot ${snap.name ?? shortId(snap.id)}? Everything written since is discarded (its snapshots stay).`,
      warnings, fields: { snapshot_id: snap.id }, back: `/console/volumes/${vol.id}?snapshot=${snap.id}`,
    };
  }
  // The API's os-revert_to_snapshot: any snapshot of the tree (the confirmation above warned about a shrink).
  return started((await revertVolume(deps, vol, snap, 'any')).id);
}

export async function extendAction(deps: ServiceDeps, caller: Caller, req: Request, volumeId: string): Promise<ActionOutcome> {
  authorize(caller, 'qcowshare:volume:action');
  authorize(caller, 'volume:extend');
  const { new_size } = parse(extendForm(deps.config.storage.maxVolumeSizeGiB), req.body, 'body');
  const vol = await visibleVolume(deps, caller, volumeId);
  if (!confirmed(req)) {
    return { kind: 'confirm', title: 'Extend the volume', question: `Extend volume ${vol.name ?? shortId(vol.id)} from ${vol.sizeGiB} GiB to ${new_size} GiB? A volume cannot be shrunk again.`, warnings: [], fields: { new_size: String(new_size) }, back: `/console/volumes/${vol.id}` };
  }
  return started((await extendVolume(deps, vol, new_size)).id);
}

export async function deleteVolumeAction(deps: ServiceDeps, caller: Caller, req: Request, volumeId: string): Promise<ActionOutcome> {
  authorize(caller, 'volume:delete');
  const vol = await visibleVolume(deps, caller, volumeId);
  if (!confirmed(req)) {
    return { kind: 'confirm', title: 'Delete the volume', question: `Delete volume ${vol.name ?? shortId(vol.id)} (${vol.sizeGiB} GiB) and all its files? This cannot be undone.`, warnings: [], fields: {}, back: `/console/volumes/${vol.id}` };
  }
  return started((await deleteVolume(deps, vol, { cascade: false, force: false })).id);
}

export async function deleteSnapshotAction(deps: ServiceDeps, caller: Caller, req: Request, snapshotId: string): Promise<ActionOutcome> {
  authorize(caller, 'volume:delete_snapshot');
  const snap = await visibleSnapshot(deps, caller, snapshotId);
  const vol = await visibleVolume(deps, caller, snap.volumeId);
  if (!confirmed(req)) {
    const p = await previewSnapshotDelete(deps, caller, snap);
    const what = p.action === 'merge'
      ? `a merge by ${p.direction ?? '?'} moving ${p.bytes_to_move ?? 0} bytes, then ${p.file_removed ?? 'one file'} is removed`
      : p.action === 'hide' ? 'it is hidden (files depend on it), no data moves' : p.action === 'remove' ? `its file ${p.file_removed ?? ''} is removed` : 'nothing changes';
    return {
      kind: 'confirm', title: 'Delete the snapshot', question: `Delete snapshot ${snap.name ?? shortId(snap.id)} of volume ${vol.name ?? shortId(vol.id)}? What happens: ${what}.`,
      warnings: p.refused ? [`It will be refused: ${p.refused.message}`] : [], fields: {}, back: `/console/volumes/${vol.id}?snapshot=${snap.id}`,
    };
  }
  return started((await deleteSnapshot(deps, vol, snap, false)).id);
}
