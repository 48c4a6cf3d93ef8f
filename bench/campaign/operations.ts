/**
 * The offline operations a fault hits: each is started through the API, and once its operation
 * has ended says what must hold (per outcome: succeeded or failed).
 */
import type { Api } from './api.js';
import type { Image } from './image-model.js';
import type { Shape, Workload } from './workload.js';
import type { VolumeExpectation } from './verify.js';

export const OPERATIONS = ['volume-create', 'snapshot-create', 'delete-commit', 'delete-pull', 'revert', 'extend', 'clone', 'create-from'] as const;
export type OperationKind = (typeof OPERATIONS)[number];

export interface Started {
  opId: string;
  /** Volumes to wait for and verify (the workload's, and one the operation creates). */
  vids: string[];
  expect(succeeded: boolean): VolumeExpectation[];
}

export const shapeOf = (op: OperationKind): Shape | null =>
  op === 'volume-create' ? null : op === 'delete-commit' ? 'commit' : op === 'delete-pull' ? 'pull' : 'any';

/**
 * How long after the 202 each operation still runs here (a quiet machine, 16 MiB of data): kill
 * moments are drawn from this window, so most land inside the operation (the table counts those).
 */
export const KILL_WINDOW_MS: Record<OperationKind, number> = {
  'volume-create': 60, 'snapshot-create': 15, 'delete-commit': 80, 'delete-pull': 80,
  revert: 15, extend: 60, clone: 160, 'create-from': 100,
};

function unchanged(w: Workload, overrides: Partial<VolumeExpectation> = {}, gone: string | null = null): VolumeExpectation {
  return {
    vid: w.vid, active: w.active, sizeGiB: 1,
    snapshots: w.snapshots.map((s) => ({ id: s.id, image: s.image, mayBeGone: s.id === gone })),
    ...overrides,
  };
}

function copy(vid: string, image: Image, succeeded: boolean): VolumeExpectation {
  return { vid, active: succeeded ? image : null, sizeGiB: succeeded ? 1 : null, snapshots: [] };
}

function opIdOf(r: { operationId: string | null; body: unknown }): string {
  if (r.operationId === null) throw new Error(`no operation id in the reply: ${JSON.stringify(r.body)}`);
  return r.operationId;
}

export async function startOperation(api: Api, op: OperationKind, w: Workload | null): Promise<Started> {
  if (op === 'volume-create' || w === null) {
    const r = await api.ok('POST', '/v3/volumes', { volume: { size: 1 } });
    const vid = r.body.volume.id as string;
    return { opId: opIdOf(r), vids: [vid], expect: (ok) => [copy(vid, new Map(), ok)] };
  }
  const target = w.snapshots[w.target] as { id: string; image: Image };
  switch (op) {
    case 'snapshot-create': {
      const r = await api.ok('POST', '/v3/snapshots', { snapshot: { volume_id: w.vid } });
      const sid = r.body.snapshot.id as string;
      return {
        opId: opIdOf(r), vids: [w.vid],
        expect: (ok) => [{ ...unchanged(w), snapshots: [...unchanged(w).snapshots, { id: sid, image: w.active, mayBeGone: !ok }] }],
      };
    }
    case 'delete-commit':
    case 'delete-pull': {
      const r = await api.ok('DELETE', `/v3/snapshots/${target.id}`);
      // Succeeded or not, the snapshot may be gone (an interrupted delete runs again); if it is
      // there it must read back its point.
      return { opId: opIdOf(r), vids: [w.vid], expect: () => [unchanged(w, {}, target.id)] };
    }
    case 'revert': {
      const r = await api.ok('POST', `/v3/volumes/${w.vid}/action`, { 'os-revert_to_snapshot': { snapshot_id: target.id } });
      return { opId: opIdOf(r), vids: [w.vid], expect: (ok) => [unchanged(w, ok ? { active: target.image } : {})] };
    }
    case 'extend': {
      const r = await api.ok('POST', `/v3/volumes/${w.vid}/action`, { 'os-extend': { new_size: 2 } });
      // A failed extend past its commit point (the intent written) is rolled forward later: the
      // size may then be 2 GiB; verify checks the row against the active file either way.
      return { opId: opIdOf(r), vids: [w.vid], expect: (ok) => [unchanged(w, { sizeGiB: ok ? 2 : null })] };
    }
    case 'clone':
    case 'create-from': {
      const body = op === 'clone' ? { size: 1, source_volid: w.vid } : { size: 1, snapshot_id: target.id };
      const r = await api.ok('POST', '/v3/volumes', { volume: body });
      const nvid = r.body.volume.id as string;
      const image = op === 'clone' ? w.active : target.image;
      return { opId: opIdOf(r), vids: [w.vid, nvid], expect: (ok) => [unchanged(w), copy(nvid, image, ok)] };
    }
  }
}

/** The operation's final state once it is no longer running (null: still running or unknown). */
export async function operationState(api: Api, opId: string): Promise<{ state: string; error: string | null; finished_at: string | null } | null> {
  const r = await api.call('GET', `/v3/operations/${opId}`, undefined, 'admin');
  if (r.status !== 200) return null;
  const op = r.body.operation as { state: string; error: string | null; finished_at: string | null };
  return op.state === 'running' ? null : op;
}
