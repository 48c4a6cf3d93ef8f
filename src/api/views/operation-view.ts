import type { OperationRecord } from '../../db/records.js';
import { ts } from './links.js';
import { phaseView } from './operation-phase-view.js';

export function operationView(o: OperationRecord): Record<string, unknown> {
  return {
    id: o.id, kind: o.kind, volume_id: o.volumeId, snapshot_id: o.snapshotId, project_id: o.projectId,
    state: o.state, progress: o.progress, fencing_token: o.fencingToken, commit_point_passed: o.commitPointPassed,
    overlay_file: o.overlayFile, error: o.error, started_at: ts(o.startedAt), finished_at: ts(o.finishedAt),
    phase: phaseView(o),
  };
}
