/** The own-name rule the checker uses to tell which files belong to which volume (orphans included). */
import { expect } from 'chai';
import { ownerOfName } from '../../../drivers/remotefs/consistency.js';

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
