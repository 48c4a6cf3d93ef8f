/**
 * The chain check's first step (chain-check.ts assertTreeShape), before any file is touched: a
 * tree whose names are not this volume's, whose backing names a file it does not hold, or whose
 * backings loop is refused; a well-shaped tree passes on to the files (here: none exist, so the
 * first one is reported missing).
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { verifyTree } from '../../../../drivers/remotefs/chain-check.js';
import type { VolumeTree } from '../../../../drivers/remotefs/info-file.js';

const vid = randomUUID();
const name = (i: number) => (i === 0 ? `volume-${vid}` : `volume-${vid}.${'0000000'}${i}-0000-4000-8000-000000000000`);

/** Files 0..n-1, each backed by `backing(i)` (default: the one before). */
function treeOf(n: number, backing: (i: number) => string | null = (i) => (i === 0 ? null : name(i - 1)), active = name(n - 1)): VolumeTree {
  const files: VolumeTree['files'] = {};
  for (let i = 0; i < n; i++) files[name(i)] = { format: 'qcow2', backing: backing(i) };
  return { version: 1, volumeId: vid, active, sizeBytes: 1 << 20, files, snapshots: {}, intent: null };
}

describe('chain check: the shape of the tree, before any file', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(path.join(tmpdir(), 'chain-shape-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const refusal = async (tree: VolumeTree): Promise<{ code: string; message: string }> => {
    try {
      await verifyTree(dir, tree, []);
    } catch (err) {
      return err as { code: string; message: string };
    }
    throw new Error('not refused');
  };

  it('a well-shaped chain (any order of the files) passes on to its files', async () => {
    expect((await refusal(treeOf(5))).code).to.equal('IMAGE_DIFFERS_FROM_INFO');
    // Listed top-down instead of root first: each file is still walked once.
    const t = treeOf(5);
    t.files = Object.fromEntries(Object.entries(t.files).reverse());
    expect((await refusal(t)).code).to.equal('IMAGE_DIFFERS_FROM_INFO');
    // Two branches over one root.
    const b = treeOf(3);
    b.files[name(7)] = { format: 'qcow2', backing: name(0) };
    expect((await refusal(b)).code).to.equal('IMAGE_DIFFERS_FROM_INFO');
  });

  it('loops are refused: a file backed by itself, two files backing each other, a loop above the root-less start', async () => {
    const loops: VolumeTree[] = [
      treeOf(3, (i) => (i === 0 ? name(0) : name(i - 1))),
      treeOf(2, (i) => name(1 - i)),
      // 0 <- 1 <- 2 <- 3 and 1 backed by 3: the walk from 3 meets 1 again.
      treeOf(4, (i) => (i === 0 ? null : i === 1 ? name(3) : name(i - 1))),
    ];
    for (const t of loops) {
      const e = await refusal(t);
      expect(e.code, e.message).to.equal('IMAGE_UNSAFE_BACKING');
      expect(e.message).to.match(/backing loop/);
    }
  });

  it('a backing the tree does not hold, a foreign name, an active file not in the tree: INFO_FILE_CORRUPT', async () => {
    expect((await refusal(treeOf(3, (i) => (i === 0 ? null : i === 2 ? name(9) : name(i - 1))))).code).to.equal('INFO_FILE_CORRUPT');
    const foreign = treeOf(2);
    foreign.files[`volume-${randomUUID()}`] = { format: 'qcow2', backing: null };
    expect((await refusal(foreign)).code).to.equal('INFO_FILE_CORRUPT');
    const traversal = treeOf(2);
    traversal.files['../../etc/passwd'] = { format: 'raw', backing: null };
    expect((await refusal(traversal)).code).to.equal('INFO_FILE_CORRUPT');
    expect((await refusal(treeOf(2, undefined, name(5)))).code).to.equal('INFO_FILE_CORRUPT');
  });
});
