/** Pure planners of export and import: manifest from a tree, its checks, the imported tree. */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { isStorageError } from '../../../../../lib/core/errors.js';
import type { VolumeTree } from '../../../../../drivers/remotefs/info-file.js';
import { chainOf, planManifest, treeAtSnapshot } from '../../../../../drivers/remotefs/export/export-plan.js';
import { importedTree, renameFile } from '../../../../../drivers/remotefs/export/import-plan.js';
import { carriedFiles, orderedFiles, parseChecksums, parseManifest } from '../../../../../drivers/remotefs/export/manifest.js';

const vid = randomUUID();
const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
const f = (x?: string) => (x ? `volume-${vid}.${x}` : `volume-${vid}`);
//   f() (a) <- f(a) (b, hidden) <- f(b) (c)
//                              \- f(c) active
const tree: VolumeTree = {
  version: 1, volumeId: vid, active: f(c), sizeBytes: 1024, intent: null,
  files: { [f()]: { format: 'qcow2', backing: null }, [f(a)]: { format: 'qcow2', backing: f() }, [f(b)]: { format: 'qcow2', backing: f(a) }, [f(c)]: { format: 'qcow2', backing: f(a) } },
  snapshots: {
    [a]: { id: a, file: f(), parent: null, hidden: false, sizeBytes: 1024, createdAt: '2026-01-01T00:00:00Z' },
    [b]: { id: b, file: f(a), parent: a, hidden: true, sizeBytes: 1024, createdAt: '2026-01-02T00:00:00Z' },
    [c]: { id: c, file: f(b), parent: b, hidden: false, sizeBytes: 1024, createdAt: '2026-01-03T00:00:00Z' },
  },
};
const lengths = new Map(Object.keys(tree.files).map((n) => [n, 4096]));
const records = { volume: { name: 'v', description: null, metadata: {}, bootable: false }, snapshots: { [a]: { name: 'a', description: 'd', metadata: { k: 'v' } } } };

describe('export planning', () => {
  it('plans a manifest that its own import accepts, roots first', () => {
    const m = planManifest(tree, records, lengths, null);
    expect(parseManifest(JSON.stringify(m))).to.deep.equal(m);
    const order = orderedFiles(m);
    expect(order[0]).to.equal(f());
    expect(order.indexOf(f(a))).to.be.lessThan(order.indexOf(f(b)));
    expect(m.tree.snapshots.find((s) => s.id === a)?.metadata).to.deep.equal({ k: 'v' });
  });

  it('an incremental manifest carries only files outside the base chain', () => {
    expect(chainOf(tree, b)).to.deep.equal([f(a), f()]);
    const sums = new Map(chainOf(tree, b).map((n) => [n, '0'.repeat(64)]));
    const m = planManifest(tree, records, lengths, { snapshotId: b, sums });
    expect(carriedFiles(m).sort()).to.deep.equal([f(b), f(c)].sort());
  });

  it('an attached volume\'s view as at its temporary snapshot: the live file and the snapshot left out', () => {
    const t = randomUUID();
    // The temporary snapshot t taken over the tree above: f(c) frozen, the guest writes f(t).
    const live: VolumeTree = structuredClone(tree);
    live.files[f(t)] = { format: 'qcow2', backing: f(c) };
    live.snapshots[t] = { id: t, file: f(c), parent: c, hidden: true, sizeBytes: 1024, createdAt: '2026-01-04T00:00:00Z' };
    live.active = f(t);
    expect(treeAtSnapshot(live, t)).to.deep.equal(tree);
    // Not the newest point (its file has another dependant than the live file): refused.
    let err: unknown;
    try { treeAtSnapshot(live, a); } catch (e) { err = e; }
    expect(isStorageError(err, 'INVALID_STATE')).to.equal(true);
    expect(() => treeAtSnapshot(live, randomUUID())).to.throw(/not in the tree/);
  });

  it('refuses a manifest whose parents disagree with the files', () => {
    const m = planManifest(tree, records, lengths, null);
    const bad = structuredClone(m);
    bad.tree.snapshots.find((s) => s.id === c)!.parent = a;
    let err: unknown;
    try { parseManifest(JSON.stringify(bad)); } catch (e) { err = e; }
    expect(isStorageError(err, 'ARCHIVE_MANIFEST_MISMATCH')).to.equal(true);
  });

  // A hostile manifest's chain can be as deep as its files: ordering it once walked the chain by
  // recursion, counting every file again at each step (a 5,000-deep chain held the service's one
  // thread for seconds; 30,000 overflowed the stack).
  it('orders a chain of 30,000 files roots first (no recursion), and refuses a loop in it', () => {
    const files: Record<string, { format: 'qcow2'; backing: string | null; bytes: number }> = {};
    let below: string | null = null;
    const chain: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      const name = f(randomUUID());
      files[name] = { format: 'qcow2', backing: below, bytes: 512 };
      chain.push(name);
      below = name;
    }
    const m = { ...planManifest(tree, records, lengths, null) };
    m.tree = { ...m.tree, files, active: below as string, snapshots: [] };
    expect(orderedFiles(m)).to.deep.equal(chain);
    files[chain[0] as string]!.backing = chain[29_999] as string;
    let err: unknown;
    try { orderedFiles(m); } catch (e) { err = e; }
    expect(isStorageError(err, 'ARCHIVE_MANIFEST_MISMATCH'), String(err)).to.equal(true);
  });

  it('maps file names and snapshot ids to the new volume', () => {
    const m = planManifest(tree, records, lengths, null);
    const nv = randomUUID();
    const ids = { volumeId: nv, snapshots: { [a]: randomUUID(), [b]: randomUUID(), [c]: randomUUID() } };
    const t = importedTree(m, ids);
    expect(t.active).to.equal(renameFile(f(c), vid, nv));
    expect(t.active).to.equal(`volume-${nv}.${c}`);
    expect(t.snapshots[ids.snapshots[c] as string]?.parent).to.equal(ids.snapshots[b]);
    expect(Object.keys(t.files).every((n) => n.startsWith(`volume-${nv}`))).to.equal(true);
  });

  it('parses sha256sum lines and refuses malformed or duplicate ones', () => {
    const sum = 'a'.repeat(64);
    expect(parseChecksums(`${sum}  ${f()}\n`).get(f())).to.equal(sum);
    for (const bad of [`${sum} ${f()}\n`, `${sum}  ${f()}\n${sum}  ${f()}\n`, 'zz  x\n']) {
      let err: unknown;
      try { parseChecksums(bad); } catch (e) { err = e; }
      expect(isStorageError(err, 'ARCHIVE_CORRUPT'), bad).to.equal(true);
    }
  });
});
