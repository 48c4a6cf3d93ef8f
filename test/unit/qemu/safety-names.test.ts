import { expect } from 'chai';
import { isStorageError } from '../../../src/core/errors.js';
import { isOwnFileName, validateBackingName } from '../../../src/qemu/safety.js';

const VID = '0b7a4c36-2c55-4d0e-9d3c-8f5d1a2b3c4d';
const OTHER = '11111111-2222-4333-8444-555555555555';
const SNAP = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isStorageError(err) ? err.code : `non-storage: ${String(err)}`;
  }
  return undefined;
}

describe('validateBackingName', () => {
  it('accepts the volume file and its overlays, bare', () => {
    expect(codeOf(() => validateBackingName(`volume-${VID}`, VID))).to.equal(undefined);
    expect(codeOf(() => validateBackingName(`volume-${VID}.${SNAP}`, VID))).to.equal(undefined);
    expect(isOwnFileName(`volume-${VID}.${SNAP}`, VID)).to.equal(true);
  });

  const refused: [string, string][] = [
    ['OSSA 2014-033: a directory part after the volume id', `volume-${VID}/x`],
    ['a directory part after an overlay name', `volume-${VID}.${SNAP}/x`],
    ['unescaped dot would accept any character', `volume-${VID}x${SNAP}`],
    ['absolute path', '/etc/passwd'],
    ['absolute path to an own name', `/mnt/share/volume-${VID}`],
    ['parent directory', `../volume-${VID}`],
    ['other volume', `volume-${OTHER}`],
    ['other volume via parent', `../volume-${OTHER}`],
    ['json: protocol', `json:{"driver":"file","filename":"volume-${VID}"}`],
    ['nbd: protocol', `nbd://10.0.0.1:10809/volume-${VID}`],
    ['http: protocol', `http://example.com/volume-${VID}`],
    ['file: protocol', `file:volume-${VID}`],
    ['trailing newline (Python $ would match)', `volume-${VID}\n`],
    ['trailing NUL', `volume-${VID}\0`],
    ['prefix', `xvolume-${VID}`],
    ['suffix that is not a uuid', `volume-${VID}.snap`],
    ['overlay suffix with extra text', `volume-${VID}.${SNAP}.tmp`],
    ['empty', ''],
    ['dot-dot', '..'],
  ];
  for (const [why, name] of refused) {
    it(`refuses ${why}`, () => {
      expect(codeOf(() => validateBackingName(name, VID))).to.equal('IMAGE_UNSAFE_BACKING');
      expect(isOwnFileName(name, VID)).to.equal(false);
    });
  }

  it('validates the volume id itself (no regex injection through it)', () => {
    expect(codeOf(() => validateBackingName('volume-.*', '.*'))).to.equal('INVALID_ID');
    expect(codeOf(() => validateBackingName(`volume-${VID}`, `${VID}|.*`))).to.equal('INVALID_ID');
    expect(codeOf(() => validateBackingName('volume-x', ''))).to.equal('INVALID_ID');
  });
});
