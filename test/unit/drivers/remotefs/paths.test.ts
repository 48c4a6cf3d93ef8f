import { expect } from 'chai';
import { deletionOrder } from '../../../../drivers/remotefs/volume-delete.js';
import { GiB, giBFromBytes } from '../../../../lib/core/gib.js';
import { sizeBytesFromGiB } from '../../../../drivers/remotefs/paths.js';
import { belongsToVolume, tempFileName, volumeIdsIn } from '../../../../lib/core/volume-names.js';
import { preallocationFor } from '../../../../drivers/remotefs/volume-create.js';
import { isStorageError } from '../../../../lib/core/errors.js';

const V = '6f1c2b1e-7d7a-4d55-9a55-0c4f0d1b2a11';
const W = '6f1c2b1e-7d7a-4d55-9a55-0c4f0d1b2a12';

describe('volume file names and sizes', () => {
  it('every file of a volume, and only its own', () => {
    for (const n of [`volume-${V}`, `volume-${V}.info`, `volume-${V}.${W}`, `.volume-${V}.info.x.tmp`, tempFileName(V)]) {
      expect(belongsToVolume(n, V), n).to.equal(true);
    }
    for (const n of [`volume-${W}`, `volume-${V}x`, `xvolume-${V}`, `volume-${V.slice(0, -1)}`, `.qcowshare-probe-${V}.tmp`]) {
      expect(belongsToVolume(n, V), n).to.equal(false);
    }
  });

  it('lists volume ids from base and info files only', () => {
    expect(volumeIdsIn([`volume-${V}`, `volume-${W}.info`, `volume-${V}.${W}`, 'other', `.volume-${V}.x.tmp`])).to.deep.equal([V, W]);
  });

  it('sizes: whole GiB from 1 to the maximum', () => {
    expect(sizeBytesFromGiB(3, 10)).to.equal(3 * GiB);
    for (const bad of [0, -1, 1.5, 11, Number.NaN, Number.POSITIVE_INFINITY]) {
      try {
        sizeBytesFromGiB(bad, 10);
        expect.fail(`accepted ${bad}`);
      } catch (err) {
        expect(isStorageError(err, 'SIZE_OUT_OF_BOUNDS'), String(bad)).to.equal(true);
      }
    }
    expect(giBFromBytes(GiB + 1)).to.equal(2);
  });

  it('deletes images first and the info file last', () => {
    expect(deletionOrder([`volume-${V}`, `volume-${V}.info`, `volume-${V}.${W}`], V)).to.deep.equal([`volume-${V}`, `volume-${V}.${W}`, `volume-${V}.info`]);
  });

  it('preallocation option per format', () => {
    expect(preallocationFor('qcow2', 'off')).to.equal(undefined);
    expect(preallocationFor('raw', 'metadata')).to.equal(undefined);
    expect(preallocationFor('qcow2', 'metadata')).to.equal('metadata');
    expect(preallocationFor('raw', 'falloc')).to.equal('falloc');
  });
});
