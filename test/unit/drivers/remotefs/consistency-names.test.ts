/** The own-name rule the checker uses to tell which files belong to which volume (orphans included). */
import { expect } from 'chai';
import { chainTrusted, ownerOfName } from '../../../../drivers/remotefs/consistency.js';

const V = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const S = '11111111-1111-4111-8111-111111111111';

describe('consistency check: which volume a file name belongs to', () => {
  it('the base file, overlays, the info file and temp files belong to their volume', () => {
    for (const n of [`volume-${V}`, `volume-${V}.${S}`, `volume-${V}.info`, `.volume-${V}.${S}.tmp`, `.volume-${V}.info.${S}.tmp`, `volume-${V.toUpperCase()}`]) {
      expect(ownerOfName(n), n).to.equal(V);
    }
  });

  it('other names belong to no volume', () => {
    for (const n of ['volume-x', `volume-${V}x`, `.volume-${V}`, `xvolume-${V}`, '.mount-locks', `snap-${V}`, `volume-${V.slice(0, 35)}`]) {
      expect(ownerOfName(n), n).to.equal(null);
    }
  });
});

describe('consistency check: qemu-img check only on chains the info file vouches for', () => {
  const base = `volume-${V}`;
  const top = `${base}.${S}`;
  const tree = { active: top, sizeBytes: 1, intent: null, snapshots: {}, files: { [base]: { format: 'qcow2' as const, backing: null }, [top]: { format: 'qcow2' as const, backing: base } } };
  const h = (backing: string | null, refused: string | null = null) => ({ fact: { format: 'qcow2', backing, virtualSize: 1 }, refused });

  it('a chain whose headers match the tree and pass the safety checks is trusted', () => {
    expect(chainTrusted(top, tree, new Map([[base, h(null)], [top, h(base)]]))).to.equal(true);
  });

  it('a header naming another backing file, a refused header anywhere below, or a missing file: not trusted', () => {
    expect(chainTrusted(top, tree, new Map([[base, h(null)], [top, h('/etc/passwd')]]))).to.equal(false);
    expect(chainTrusted(top, tree, new Map([[base, h(null, 'IMAGE_UNSAFE_BACKING: data file')], [top, h(base)]]))).to.equal(false);
    expect(chainTrusted(top, tree, new Map([[top, h(base)]]))).to.equal(false);
    expect(chainTrusted(base, tree, new Map([[base, h(null)]]))).to.equal(true);
  });
});
