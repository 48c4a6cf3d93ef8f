/** The overlay layout read back by the header parser (no qemu needed; qemu equality is an integration test). */
import { expect } from 'chai';
import { isStorageError } from '../../../../lib/core/errors.js';
import { MAX_OVERLAY_SIZE, l1Entries, overlayLayout } from '../../../../lib/qemu/qcow2-overlay-layout.js';
import { parseQcow2Header } from '../../../../lib/qemu/qcow2-header.js';
import { planOverlay } from '../../../../lib/qemu/qcow2-writer.js';

const GiB = 1024 ** 3;

function assemble(size: number, name = 'volume-a', fmt = 'qcow2'): { file: Buffer; fileSize: number } {
  const layout = overlayLayout(name, fmt, size);
  const file = Buffer.alloc(Math.min(layout.fileSize, 4 * 65536));
  for (const r of layout.regions) r.data.copy(file, r.offset);
  return { file, fileSize: layout.fileSize };
}

describe('qcow2 overlay layout', () => {
  for (const size of [512, GiB, 4 * 1024 * GiB, 4 * 1024 * GiB + 512, MAX_OVERLAY_SIZE]) {
    it(`parses back for ${size} bytes`, () => {
      const { file, fileSize } = assemble(size, 'volume-b', 'raw');
      const h = parseQcow2Header(file, fileSize);
      expect(h).to.include({
        version: 3, clusterSize: 65536, virtualSize: size, backingFile: 'volume-b', backingFormat: 'raw', l1Size: l1Entries(size),
        l1TableOffset: 3 * 65536, refcountTableOffset: 65536, refcountOrder: 4, headerLength: 112, dirty: false, corrupt: false,
      });
      expect(h.extensions).to.deep.equal([0xe2792aca, 0x6803f857]);
      expect(fileSize).to.equal(3 * 65536 + l1Entries(size) * 8);
      // refcount block: one per used cluster (header, reftable, refblock, L1 clusters), then zero
      const used = 3 + Math.ceil((l1Entries(size) * 8) / 65536);
      expect(file.readUInt16BE(2 * 65536 + 2 * (used - 1))).to.equal(1);
      expect(file.readUInt16BE(2 * 65536 + 2 * used)).to.equal(0);
    });
  }

  it('planOverlay refuses what the writer must not write', () => {
    const code = (o: Partial<Parameters<typeof planOverlay>[0]>) => {
      try {
        planOverlay({ backingName: 'volume-a', backingFormat: 'qcow2', virtualSize: GiB, ...o });
      } catch (err) {
        return isStorageError(err) ? err.code : String(err);
      }
      return 'OK';
    };
    expect(code({})).to.equal('OK');
    expect(code({ virtualSize: 1000 })).to.equal('SIZE_OUT_OF_BOUNDS');
    expect(code({ virtualSize: 0 })).to.equal('SIZE_OUT_OF_BOUNDS');
    expect(code({ virtualSize: MAX_OVERLAY_SIZE + 512 })).to.equal('SIZE_OUT_OF_BOUNDS');
    expect(code({ backingName: '/abs' })).to.equal('IMAGE_UNSAFE_BACKING');
    expect(code({ backingFormat: 'vmdk' as 'raw' })).to.equal('INVALID_INPUT');
  });
});
