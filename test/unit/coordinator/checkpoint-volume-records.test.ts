/**
 * The fields a checkpoint record gained for ordinary per-volume snapshots and the firmware store
 * (snapshotId, the take's snapshot operations, nvram), read as hostile input like the rest, and
 * the <nvram> path a definition names.
 */
import { expect } from 'chai';
import { isStorageError } from '../../../lib/core/errors.js';
import { parseRecord, type CheckpointRecord } from '../../../coordinator/checkpoint/record.js';
import { nvramPathOf } from '../../../coordinator/checkpoint/nvram.js';

const V1 = '11111111-1111-4111-8111-111111111111';
const INST = '33333333-3333-4333-8333-333333333333';
const CP = '44444444-4444-4444-8444-444444444444';
const S = '55555555-5555-4555-8555-555555555555';
const OP = '66666666-6666-4666-8666-666666666666';

const good: CheckpointRecord = {
  id: CP, instanceUuid: INST, name: 'c1', description: '', created: '2026-01-01T00:00:00.000Z', mode: 'consistent', quiesced: false,
  status: 'creating', volumes: [{ volumeId: V1, target: 'vdb', snapshotPoint: `/mnt/a/volume-${V1}`, sizeBytes: 1 << 20, snapshotId: S }],
  excluded: [], memorySize: 0, definitionSha256: 'a'.repeat(64), overlays: [`/mnt/a/volume-${V1}.${S}`],
  operations: [{ snapshotId: S, operationId: OP, fencingToken: 7 }],
  nvram: { path: '/var/lib/libvirt/qemu/nvram/x_VARS.fd', size: 540672, sha256: 'b'.repeat(64) },
};

function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return isStorageError(e) ? e.code : String(e); }
  return undefined;
}
const rec = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });
const parse = (text: string) => parseRecord(text, 'checkpoint.json', { id: CP, instanceUuid: INST });

describe('checkpoint record: per-volume snapshots and firmware store', () => {
  it('reads them back', () => {
    expect(parse(JSON.stringify(good))).to.deep.equal(good);
  });

  it('refuses a malformed snapshot id, operation or firmware entry', () => {
    for (const text of [
      rec({ volumes: [{ ...good.volumes[0], snapshotId: '../x' }] }),
      rec({ operations: [] }), rec({ operations: [{ snapshotId: OP, operationId: OP, fencingToken: 7 }] }),
      rec({ operations: [{ snapshotId: S, operationId: 'x', fencingToken: 7 }] }), rec({ operations: [{ snapshotId: S, operationId: OP, fencingToken: 1.5 }] }),
      rec({ nvram: { ...good.nvram, path: 'relative.fd' } }), rec({ nvram: { ...good.nvram, path: '/a/../etc/shadow' } }),
      rec({ nvram: { ...good.nvram, size: -1 } }), rec({ nvram: { ...good.nvram, sha256: 'nope' } }), rec({ nvram: null }),
    ]) expect(code(() => parse(text)), text).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
  });
});

describe('the <nvram> file a definition names', () => {
  it('reads the text form, none when absent, and refuses what is not an absolute path', () => {
    expect(nvramPathOf('<domain><os><type>hvm</type><nvram>/v/x_VARS.fd</nvram></os></domain>')).to.equal('/v/x_VARS.fd');
    expect(nvramPathOf(`<domain><os><nvram template='/t.fd'>/v/a&amp;b.fd</nvram></os></domain>`)).to.equal('/v/a&b.fd');
    expect(nvramPathOf('<domain><os><type>hvm</type></os><devices><nvram/></devices></domain>'), 'a device <nvram> is not the store').to.equal(null);
    for (const xml of ['<domain><os><nvram>x.fd</nvram></os></domain>', '<domain><os><nvram/></os></domain>', '<domain><os><nvram>/a/../b.fd</nvram></os></domain>',
      `<domain><os><nvram type='file'><source file='/v/x.fd'/></nvram></os></domain>`]) {
      expect(code(() => nvramPathOf(xml)), xml).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
    }
  });
});
