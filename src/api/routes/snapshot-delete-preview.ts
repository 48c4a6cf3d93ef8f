/** GET /v3/{project_id}/snapshots/{id}/delete-preview (extension): what a delete would do, before it is confirmed. */
import { callerOf, scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { visibleSnapshot } from '../usecases/lookup.js';
import { previewSnapshotDelete } from '../usecases/snapshot-delete-preview.js';
import { pathIds } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import type { RouteDef } from './route.js';

export function snapshotDeletePreviewRoutes(deps: ServiceDeps): RouteDef[] {
  return [{
    method: 'get', path: '/snapshots/:snapshot_id/delete-preview', versioned: true, policy: 'qcowshare:snapshot:delete_preview', status: 200,
    summary: 'What deleting the snapshot would do now: remove, merge (direction, bytes to move) or hide; changes nothing',
    handler: async (req, res) => {
      const { snapshot_id } = parse(pathIds.snapshot, req.params, 'path');
      scopedProject(req);
      const caller = callerOf(req);
      res.json({ delete_preview: await previewSnapshotDelete(deps, caller, await visibleSnapshot(deps, caller, snapshot_id)) });
    },
  }];
}
