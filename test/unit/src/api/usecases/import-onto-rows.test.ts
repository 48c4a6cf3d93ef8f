/**
 * The rows an incremental import onto a volume records before its info file
 * (src/api/usecases/import-onto-rows.ts): planned from the manifest and the pairing, encoded
 * within a bound, and read back only when they are exactly that shape (the settle pass never
 * guesses from a damaged record).
 */
import { expect } from 'chai';
import type { ExportManifest } from '../../../../../drivers/contract/export-manifest.js';
import { encodeOntoRows, MAX_ONTO_PAYLOAD_CHARS, parseOntoRows, planOntoRows } from '../../../../../src/api/usecases/import-onto-rows.js';
import { IMPORT_SOURCE_KEY } from '../../../../../src/api/usecases/volume-import.js';

const GiB = 1024 ** 3;

/** The manifest fields the plan reads (the rest is the driver's). */
function manifest(snapshots: { id: string; name: string | null; metadata?: Record<string, string> }[]): ExportManifest {
  return {
    volume: { id: 'src-vol', sizeBytes: 2 * GiB },
    tree: { snapshots: snapshots.map((s) => ({ id: s.id, name: s.name, description: null, metadata: s.metadata ?? {}, hidden: false, sizeBytes: GiB + 1 })) },
  } as unknown as ExportManifest;
}

const owner = { volumeId: 'target-vol', projectId: 'p-alice', userId: 'u-alice' };

describe('import onto a volume: the recorded rows', () => {
  it('plans every snapshot under its target id with its source id, and the rows the new tree drops', () => {
    const p = planOntoRows(manifest([{ id: 'sa', name: 'a' }, { id: 'sb', name: 'b', metadata: { n: '2' } }]), { sa: 'ta', sb: 'tb' }, ['ta', 'told'], owner);
    expect(p.rows).to.deep.equal([
      { id: 'ta', name: 'a', description: null, metadata: { [IMPORT_SOURCE_KEY]: 'sa' }, hidden: false, sizeGiB: 2 },
      { id: 'tb', name: 'b', description: null, metadata: { n: '2', [IMPORT_SOURCE_KEY]: 'sb' }, hidden: false, sizeGiB: 2 },
    ]);
    expect(p.dropped).to.deep.equal(['told']);
    expect(p.sizeGiB).to.equal(2);
    expect(parseOntoRows(encodeOntoRows(p))).to.deep.equal(p);
  });

  it('refuses a snapshot the pairing left without a target id', () => {
    expect(() => planOntoRows(manifest([{ id: 'sa', name: 'a' }]), {}, [], owner)).to.throw(/no target id/);
  });

  it('refuses to record more than the bound: INVALID_INPUT', () => {
    const big = manifest([{ id: 'sa', name: 'a', metadata: { blob: 'x'.repeat(MAX_ONTO_PAYLOAD_CHARS) } }]);
    expect(() => encodeOntoRows(planOntoRows(big, { sa: 'ta' }, [], owner))).to.throw().with.property('code', 'INVALID_INPUT');
  });

  it('reads back nothing from an absent, unparsable, oversize or differently shaped record', () => {
    const good = planOntoRows(manifest([{ id: 'sa', name: 'a' }]), { sa: 'ta' }, [], owner);
    expect(parseOntoRows(null)).to.equal(null);
    expect(parseOntoRows('{not json')).to.equal(null);
    expect(parseOntoRows(JSON.stringify({ ...good, kind: 'other' }))).to.equal(null);
    expect(parseOntoRows(JSON.stringify({ ...good, extra: 1 }))).to.equal(null);
    expect(parseOntoRows(JSON.stringify({ ...good, rows: [{ ...good.rows[0], sizeGiB: -1 }] }))).to.equal(null);
    expect(parseOntoRows(JSON.stringify({ ...good, dropped: 'all' }))).to.equal(null);
    expect(parseOntoRows(' '.repeat(MAX_ONTO_PAYLOAD_CHARS + 1))).to.equal(null);
  });
});
