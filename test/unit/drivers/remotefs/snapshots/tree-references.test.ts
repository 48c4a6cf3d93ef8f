/**
 * An info file is on the share, as hostile as an image: a tree naming a file it does not record
 * (active, backing, a snapshot's file) or whose backings loop is refused with INFO_FILE_CORRUPT
 * when an operation reaches the name (no internal error), and reported up front by the checker.
 */
import { expect } from 'chai';
import { isStorageError } from '../../../../../lib/core/errors.js';
import type { VolumeTree } from '../../../../../drivers/remotefs/info-file.js';
import { fileFormat, treeReferenceProblems } from '../../../../../drivers/remotefs/snapshots/tree.js';

const V = '11111111-2222-4333-8444-555555555555';
const S = 'aaaaaaaa-1111-4222-8333-444444444444';
const base = `volume-${V}`;
const top = `volume-${V}.${S}`;

function tree(patch: (t: VolumeTree) => void = () => {}): VolumeTree {
  const t: VolumeTree = {
    version: 1, volumeId: V, active: top, sizeBytes: 2 ** 30, intent: null,
    files: { [base]: { format: 'qcow2', backing: null }, [top]: { format: 'qcow2', backing: base } },
    snapshots: { [S]: { id: S, file: base, parent: null, hidden: false, sizeBytes: 2 ** 30, createdAt: '2026-01-01T00:00:00.000Z' } },
  } as VolumeTree;
  patch(t);
  return t;
}

describe('remotefs tree: names the info file uses but does not record (unit)', () => {
  it('a sound tree has no problem', () => {
    expect(treeReferenceProblems(tree())).to.deep.equal([]);
  });

  it('reports an unrecorded active file, backing or snapshot file, and a backing loop', () => {
    const missing = `volume-${V}.00000000-0000-4000-8000-000000000000`;
    expect(treeReferenceProblems(tree((t) => { t.active = missing; }))).to.deep.equal([`active file ${missing} is not in its files`]);
    expect(treeReferenceProblems(tree((t) => { (t.files[top] as { backing: string | null }).backing = missing; }))).to.deep.equal([`${top}: backing ${missing} is not in its files`]);
    expect(treeReferenceProblems(tree((t) => { (t.snapshots[S] as { file: string }).file = missing; }))).to.deep.equal([`snapshot ${S}: file ${missing} is not in its files`]);
    expect(treeReferenceProblems(tree((t) => { (t.files[base] as { backing: string | null }).backing = top; }))).to.have.length(1).and.to.match(/^backing loop at /);
    expect(treeReferenceProblems(tree((t) => { (t.files[top] as { backing: string | null }).backing = top; }))).to.deep.equal([`backing loop at ${top}`]);
    // A name of Object.prototype's members is not recorded either.
    expect(treeReferenceProblems(tree((t) => { t.active = 'constructor'; }))).to.deep.equal(['active file constructor is not in its files']);
  });

  it('fileFormat of an unrecorded name is INFO_FILE_CORRUPT, not an internal error', () => {
    for (const name of [`volume-${V}.00000000-0000-4000-8000-000000000000`, 'constructor', '__proto__']) {
      let err: unknown;
      try {
        fileFormat(tree(), name);
      } catch (e) {
        err = e;
      }
      expect(isStorageError(err, 'INFO_FILE_CORRUPT'), `${name}: ${String(err)}`).to.equal(true);
    }
    expect(fileFormat(tree(), top)).to.equal('qcow2');
  });
});
