/** The planners' deep copy of a tree (drivers/remotefs/tree-clone.ts): exact, independent, JSON-safe. */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { parseInfo, serializeInfo, type VolumeTree } from '../../../../drivers/remotefs/info-file.js';
import { cloneTree } from '../../../../drivers/remotefs/tree-clone.js';

const vid = randomUUID();
const base = `volume-${vid}`;
const s1 = randomUUID();
const top = `${base}.${s1}`;
const tree: VolumeTree = {
  version: 1, volumeId: vid, active: top, sizeBytes: 1 << 30,
  files: { [base]: { format: 'raw', backing: null, identity: 'a.b.c.d.e' }, [top]: { format: 'qcow2', backing: base } },
  snapshots: { [s1]: { id: s1, file: base, parent: null, hidden: false, sizeBytes: 1 << 30, createdAt: '2026-12-07T06:00:00.000Z' } },
  // Any JSON below the intent (its data is per kind): copied as it is.
  intent: {
    kind: 'extend', step: 'resize', committed: false, id: randomUUID(), snapshotId: null, startedAt: '2026-12-07T06:00:00.000Z',
    files: {}, data: { fromBytes: 1 << 30, toBytes: 1 << 31 },
  } as unknown as VolumeTree['intent'],
};

describe('tree clone', () => {
  it('is deep-equal to the tree and serialises to the same info file', () => {
    const c = cloneTree(tree);
    expect(c).to.deep.equal(tree);
    expect(serializeInfo(c)).to.equal(serializeInfo(tree));
  });

  it('shares no object with the tree: changing the copy leaves the tree as it was', () => {
    const before = JSON.stringify(tree);
    const c = cloneTree(tree);
    c.files[base]!.identity = 'changed';
    c.snapshots[s1]!.hidden = true;
    (c.intent!.data as Record<string, unknown>).toBytes = 0;
    c.files.extra = { format: 'qcow2', backing: top };
    expect(JSON.stringify(tree)).to.equal(before);
  });

  it('keeps a "__proto__" key of parsed JSON as a property, never as the prototype', () => {
    const raw = JSON.parse('{"a": {"__proto__": {"polluted": true}, "b": [1, {"c": null}]}}') as Record<string, unknown>;
    const c = cloneTree(raw as unknown as VolumeTree) as unknown as { a: Record<string, unknown> };
    expect(Object.getPrototypeOf(c.a)).to.equal(Object.prototype);
    expect(Object.keys(c.a)).to.deep.equal(['__proto__', 'b']);
    expect((c.a as { polluted?: unknown }).polluted).to.equal(undefined);
    expect(JSON.stringify(c)).to.equal(JSON.stringify(raw));
  });

  it('a parsed info file clones to a tree that parses back the same', () => {
    const parsed = parseInfo(serializeInfo({ ...tree, intent: null }), 'x.info').tree!;
    expect(parseInfo(serializeInfo(cloneTree(parsed)), 'x.info').tree).to.deep.equal(parsed);
  });
});
