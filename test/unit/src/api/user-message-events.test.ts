import { expect } from 'chai';
import type { OperationKind } from '../../../../src/db/records.js';
import { plannedMessage } from '../../../../src/api/user-messages/events.js';

const V = '11111111-1111-4111-8111-111111111111';
const S = '22222222-2222-4222-8222-222222222222';
const op = (kind: OperationKind, snapshotId: string | null = null) => ({ kind, volumeId: V, snapshotId });

describe('user messages: which event a failed operation leaves (pure)', () => {
  it('a success or an abandoned operation leaves none', () => {
    expect(plannedMessage(op('create_volume'), { state: 'succeeded', recovered: false })).to.equal(null);
    expect(plannedMessage(op('snapshot_metadata', S), { state: 'abandoned', recovered: true })).to.equal(null);
  });

  it('the asynchronous failures of the issue, each with its stable event id and a plain cause', () => {
    const cases: [ReturnType<typeof op>, string | undefined, string, string][] = [
      [op('create_volume'), 'NO_SHARE_SPACE', 'VOLUME_VOLUME_001_003', 'schedule allocate volume: No share has enough free space for it.'],
      [op('extend_volume'), 'PROCESS_FAILED', 'VOLUME_VOLUME_007_010', 'extend volume: Volume Driver failed to extend volume.'],
      [op('extend_volume'), 'NO_SPACE', 'VOLUME_VOLUME_007_101', 'extend volume: The share ran out of space while the operation wrote to it; the volume was left as it was before.'],
      [op('delete_snapshot', S), 'PLAN_MISMATCH', 'VOLUME_VOLUME_SNAPSHOT_010_103', "delete snapshot: The change of the volume's chain of files was refused to keep its data safe (for a snapshot delete: the merge); nothing was lost."],
      [op('create_snapshot', S), undefined, 'VOLUME_VOLUME_SNAPSHOT_009_013', 'create snapshot: Snapshot failed to create.'],
      [op('revert_volume', S), 'IMAGE_CORRUPT', 'VOLUME_VOLUME_101_104', 'revert volume to snapshot: A file of the volume failed verification and was not used; an administrator must look at it.'],
      [op('delete_volume'), 'SOMETHING_NEW', 'VOLUME_VOLUME_102_001', 'delete volume: An unknown error occurred.'],
    ];
    for (const [o, code, eventId, userMessage] of cases) {
      const m = plannedMessage(o, { state: 'failed', code, recovered: false });
      expect(m, `${o.kind} ${code}`).to.include({ eventId, userMessage });
    }
  });

  it('names the snapshot for snapshot actions and the volume otherwise', () => {
    expect(plannedMessage(op('create_snapshot', S), { state: 'failed', recovered: false })).to.include({ resourceType: 'VOLUME_SNAPSHOT', resourceUuid: S });
    expect(plannedMessage(op('revert_volume', S), { state: 'failed', recovered: false })).to.include({ resourceType: 'VOLUME', resourceUuid: V });
    // A snapshot operation without its snapshot id still names something real: its volume.
    expect(plannedMessage(op('delete_snapshot'), { state: 'failed', recovered: false })).to.include({ resourceType: 'VOLUME', resourceUuid: V, eventId: 'VOLUME_VOLUME_010_016' });
  });

  it('a failure recorded by a recovery pass says it was interrupted, whatever its code', () => {
    expect(plannedMessage(op('revert_volume', S), { state: 'failed', code: 'NO_SPACE', recovered: true })?.eventId).to.equal('VOLUME_VOLUME_101_107');
  });
});
