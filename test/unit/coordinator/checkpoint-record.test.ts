/** checkpoint.json and revert.json are read from the share as hostile input. */
import { expect } from 'chai';
import { isStorageError } from '../../../lib/core/errors.js';
import { parseIntent, parseRecord, type CheckpointRecord } from '../../../coordinator/checkpoint/record.js';

const V1 = '11111111-1111-4111-8111-111111111111';
const V2 = '22222222-2222-4222-8222-222222222222';
const INST = '33333333-3333-4333-8333-333333333333';
const CP = '44444444-4444-4444-8444-444444444444';
const S = '55555555-5555-4555-8555-555555555555';

const good: CheckpointRecord = {
  id: CP, instanceUuid: INST, name: 'c1', description: '', created: '2026-01-01T00:00:00.000Z', mode: 'consistent', quiesced: false,
  status: 'available', volumes: [{ volumeId: V1, target: 'vdb', snapshotPoint: `/mnt/a/volume-${V1}`, sizeBytes: 1 << 20 }],
  excluded: [], memorySize: 4096, definitionSha256: 'a'.repeat(64),
};

function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return isStorageError(e) ? e.code : String(e); }
  return undefined;
}
const rec = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });
const vol = (patch: Record<string, unknown>) => rec({ volumes: [{ ...good.volumes[0], ...patch }] });

describe('checkpoint record and revert intent parsing', () => {
  it('reads a good record back', () => {
    expect(parseRecord(JSON.stringify(good), 'checkpoint.json', { id: CP, instanceUuid: INST })).to.deep.equal(good);
  });

  it('refuses records naming another checkpoint, foreign files, traversal, odd targets or sizes', () => {
    const p = (text: string) => code(() => parseRecord(text, 'checkpoint.json', { id: CP, instanceUuid: INST }));
    for (const text of [
      'not json', rec({ id: S }), rec({ instanceUuid: S }), rec({ volumes: [] }), rec({ mode: 'sideways' }), rec({ status: 'gone' }),
      rec({ memorySize: -1.5 }), rec({ memorySize: -1 }), rec({ definitionSha256: 'xyz' }), rec({ excluded: ['../x'] }),
      vol({ snapshotPoint: '/etc/shadow' }), vol({ snapshotPoint: `/mnt/a/../b/volume-${V1}` }), vol({ snapshotPoint: `volume-${V1}` }),
      vol({ snapshotPoint: `/mnt/a/volume-${V2}` }), vol({ volumeId: 'x' }), vol({ target: 'vd b' }), vol({ sizeBytes: 0 }),
      rec({ volumes: [good.volumes[0], { ...good.volumes[0], volumeId: V2, snapshotPoint: `/mnt/a/volume-${V2}` }] }),
    ]) expect(p(text), text).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
  });

  it('refuses an intent whose overlays are not fresh files of the checkpoint\'s volumes in their directories', () => {
    const intent = (overlays: unknown[], patch: Record<string, unknown> = {}) => JSON.stringify({
      checkpointId: CP, instanceUuid: INST, phase: 'destroyed', previousDefinition: '<domain/>', overlays, paused: false, started: '', ...patch,
    });
    const ok = { volumeId: V1, target: 'vdb', path: `/mnt/a/volume-${V1}.${S}` };
    expect(parseIntent(intent([ok]), 'revert.json', INST, good).overlays).to.deep.equal([ok]);
    const p = (text: string) => code(() => parseIntent(text, 'revert.json', INST, good));
    for (const text of [
      intent([{ ...ok, path: '/etc/passwd' }]), intent([{ ...ok, path: `/elsewhere/volume-${V1}.${S}` }]), intent([{ ...ok, volumeId: V2, path: `/mnt/a/volume-${V2}.${S}` }]),
      intent([ok], { instanceUuid: S }), intent([ok], { phase: 'halfway' }), intent([ok], { checkpointId: '../x' }), 'nope',
    ]) expect(p(text), text).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
  });
});
