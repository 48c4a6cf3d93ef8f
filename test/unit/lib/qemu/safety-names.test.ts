import { expect } from 'chai';
import { OTHER, SNAP, VID, codeOf } from '../../../fixtures/code-of.js';
import { isOwnFileName } from '../../../../lib/core/volume-names.js';
import { validateBackingName } from '../../../../lib/qemu/safety.js';

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
