import { expect } from 'chai';
import type { CheckpointRow } from '../../../../src/db/index.js';
import type { SnapshotRecord } from '../../../../src/db/records.js';
import type { TreeNodeView, TreeView } from '../../../../src/api/views/tree-view.js';
import { checkpointMembersInTree } from '../../../../src/console/checkpoint-members.js';

const node = (id: string): TreeNodeView => ({ id, parent: null, hidden: false, owned_file: `volume-v.${id}`, size: 1, allocated_size: 0, name: null, status: 'available', created_at: null });
const tree: TreeView = { volume_id: 'v', active_file: 'volume-v.a', active_parent: 's2', active_allocated_size: 0, format: 'qcow2', snapshots: [node('s1'), node('s2'), node('s3')] };

function checkpoint(id: string, volumes: { volumeId: string; snapshotPoint: string; snapshotId: string | null }[]): CheckpointRow {
  return {
    id, projectId: 'p', instanceUuid: 'i', hostName: 'h', coordinatorId: id, name: null, description: null, mode: 'consistent', status: 'available',
    memorySize: 1, definitionSha256: null, volumes: volumes.map((m) => ({ ...m, target: 'vdb' })), error: null, progress: 100, hostMove: null, createdAt: new Date(0), updatedAt: new Date(0),
  };
}
const snap = (id: string, metadata: Record<string, string>) => ({ id, metadata }) as unknown as SnapshotRecord;

describe('console: checkpoint members in the tree', () => {
  it('a member is the snapshot the checkpoint names, or else the point owning its file; other volumes\' members are not drawn', () => {
    const m = checkpointMembersInTree('v', tree, [
      checkpoint('c1', [{ volumeId: 'v', snapshotPoint: 'volume-v.zzz', snapshotId: 's1' }, { volumeId: 'w', snapshotPoint: 'volume-w.s2', snapshotId: 's2' }]),
      checkpoint('c2', [{ volumeId: 'v', snapshotPoint: 'volume-v.s3', snapshotId: null }]),
    ], [], 'checkpoint_id');
    expect([...m.entries()].sort()).to.deep.equal([['s1', 'c1'], ['s3', 'c2']]);
  });

  it('a point not in the tree draws nothing; a metadata mark counts only for a checkpoint that exists', () => {
    const m = checkpointMembersInTree('v', tree, [checkpoint('c1', [{ volumeId: 'v', snapshotPoint: 'volume-v.gone', snapshotId: 'gone' }])],
      [snap('s2', { checkpoint_id: 'c1' }), snap('s3', { checkpoint_id: 'deleted-checkpoint' })], 'checkpoint_id');
    expect([...m.entries()]).to.deep.equal([['s2', 'c1']]);
    expect(checkpointMembersInTree('v', null, [checkpoint('c1', [{ volumeId: 'v', snapshotPoint: 'volume-v.s1', snapshotId: 's1' }])], [], 'checkpoint_id').size).to.equal(0);
  });
});
