/**
 * The compiled tree schema (drivers/remotefs/info-file.ts compiledTreeSchema, zod's z.compile)
 * answers exactly as the declared one: the same success and data, the same issues, for valid
 * trees and for every field of a tree replaced by a wrong value, removed, or joined by an unknown
 * key. A compiled parser that accepted what the declared schema refuses would let a hostile info
 * file through.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { compiledTreeSchema, treeSchema, type VolumeTree } from '../../../../drivers/remotefs/info-file.js';

const vid = randomUUID();
const base = `volume-${vid}`;
const f1 = `${base}.${randomUUID()}`;
const f2 = `${base}.${randomUUID()}`;
const s1 = randomUUID();
const s2 = randomUUID();

function validTree(withIntent: boolean): VolumeTree {
  return {
    version: 1,
    volumeId: vid,
    active: f2,
    sizeBytes: 64 * 1024 ** 2,
    files: {
      [base]: { format: 'raw', backing: null, identity: 'k3x.1c0.lz4k2a.1c0.' + 'A'.repeat(43) },
      [f1]: { format: 'qcow2', backing: base, identity: 'k3y.1c0.lz4k2b.1c0.' + 'B'.repeat(43) },
      [f2]: { format: 'qcow2', backing: f1 },
    },
    snapshots: {
      [s1]: { id: s1, file: base, parent: null, hidden: false, sizeBytes: 32 * 1024 ** 2, createdAt: '2026-01-01T00:00:00.000Z' },
      [s2]: { id: s2, file: f1, parent: s1, hidden: true, sizeBytes: 64 * 1024 ** 2, createdAt: '2026-01-02T00:00:00.000Z' },
    },
    intent: withIntent
      ? {
        id: randomUUID(), kind: 'delete_snapshot', step: 'commit', snapshotId: s2, files: { base: f1, top: f2, victim: f2, survivor: f1 }, committed: true, startedAt: 'x',
        data: { plan: { snapshotId: s2, direction: 'commit', base: f1, top: f2, victim: f2, survivor: f1, newBacking: null, newBackingFormat: null, rebaseOnto: [], survivorSize: 64 * 1024 ** 2, growBaseTo: null } },
      }
      : null,
  };
}

/** Wrong values of every JSON kind, and the edges of the fields' rules. */
const WRONG: unknown[] = [
  undefined, null, 0, 1, 2, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '', 'x', true, false, [], {}, [1],
  'a'.repeat(201), 'a'.repeat(200), '\u{1F600}'.repeat(101),
  '00000000-0000-0000-0000-000000000001', // GUID-shaped, not RFC 9562 (version 0)
  '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  vid.toUpperCase(), ` ${vid}`, `${vid}\n`, 'qcow2', 'raw', 'vmdk', 'delete_volume', 'create_snapshot', base,
];

type Json = Record<string, unknown> | unknown[];

/** Every (container, key) of the tree, the root's included. */
function places(node: unknown, out: [Json, string][] = []): [Json, string][] {
  if (typeof node !== 'object' || node === null) return out;
  for (const k of Object.keys(node)) {
    out.push([node as Json, k]);
    places((node as Record<string, unknown>)[k], out);
  }
  return out;
}

function same(input: unknown): void {
  const a = treeSchema.safeParse(input);
  const b = compiledTreeSchema.safeParse(input);
  expect(b.success, JSON.stringify(input)).to.equal(a.success);
  if (a.success) expect(b.data).to.deep.equal(a.data);
  else expect(b.error?.issues).to.deep.equal(a.error?.issues);
}

describe('compiled info tree schema', () => {
  it('accepts valid trees with the same data (intent included); an intent without its data is refused by both', () => {
    for (const withIntent of [false, true]) {
      const t = validTree(withIntent);
      same(t);
      expect(compiledTreeSchema.parse(t)).to.deep.equal(t);
    }
    const noData = validTree(true) as unknown as { intent: Record<string, unknown> };
    delete noData.intent['data'];
    same(noData);
    expect(compiledTreeSchema.safeParse(noData).success).to.equal(false);
  });

  it('answers as the declared schema for every field replaced, removed or joined by an unknown key', () => {
    let cases = 0;
    for (const withIntent of [false, true]) {
      const count = places(validTree(withIntent)).length;
      for (let i = 0; i < count; i++) {
        for (const wrong of WRONG) {
          const t = validTree(withIntent);
          const [container, key] = places(t)[i] as [Json, string];
          if (wrong === undefined && !Array.isArray(container)) delete (container as Record<string, unknown>)[key];
          else (container as Record<string, unknown>)[key] = wrong;
          same(t);
          cases++;
        }
        const t = validTree(withIntent);
        const [container, key] = places(t)[i] as [Json, string];
        const inner = (container as Record<string, unknown>)[key];
        if (typeof inner === 'object' && inner !== null && !Array.isArray(inner)) {
          (inner as Record<string, unknown>)['unexpected'] = 1;
          same(t);
          cases++;
        }
      }
    }
    for (const wrong of WRONG) same(wrong);
    same({ ...validTree(true), unexpected: 1 });
    expect(cases).to.be.greaterThan(1000);
  });
});
