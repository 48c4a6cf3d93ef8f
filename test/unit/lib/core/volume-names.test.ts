/** The one rule for ids and a volume's file names, against hostile names. */
import { expect } from 'chai';
import { OTHER, SNAP, VID, codeOf } from '../../../fixtures/code-of.js';
import {
  BASE_FILE_PATTERN, VOLUME_FILE_PATTERN, assertOwnFileName, assertUuid, belongsToVolume, infoFileName, isOwnFileName, isOwnOverlayName,
  isInfoTempOfVolume, isTempOfVolume, isUuid, overlayFileName, tempFileName, volumeIdOfFile, volumeIdsIn,
} from '../../../../lib/core/volume-names.js';

const HOSTILE: [string, string][] = [
  ['parent traversal', `../volume-${VID}`],
  ['deep traversal', '../../../etc/passwd'],
  ['traversal after an own name', `volume-${VID}/../../etc/passwd`],
  ['directory part (OSSA 2014-033)', `volume-${VID}/x`],
  ['directory part after an overlay', `volume-${VID}.${SNAP}/x`],
  ['backslash', `volume-${VID}\\x`],
  ['absolute', '/etc/passwd'],
  ['absolute own name', `/srv/share/volume-${VID}`],
  ['dot-dot', '..'],
  ['dot', '.'],
  ['empty', ''],
  ['json: protocol', `json:{"driver":"file","filename":"volume-${VID}"}`],
  ['nbd:// protocol', `nbd://127.0.0.1:10809/volume-${VID}`],
  ['file: protocol', `file:volume-${VID}`],
  ['gluster:// protocol', `gluster://host/vol/volume-${VID}`],
  ['NUL inside', `volume-${VID}\0.${SNAP}`],
  ['trailing NUL', `volume-${VID}\0`],
  ['trailing newline', `volume-${VID}\n`],
  ['leading space', ` volume-${VID}`],
  ['unescaped dot', `volume-${VID}x${SNAP}`],
  ['another volume', `volume-${OTHER}`],
  ['another volume\'s overlay', `volume-${OTHER}.${SNAP}`],
  ['own id as an overlay of another', `volume-${OTHER}.${VID}`],
  ['the info file', `volume-${VID}.info`],
  ['a temp file', `.volume-${VID}.${SNAP}.tmp`],
  ['overlay with a suffix', `volume-${VID}.${SNAP}.tmp`],
  ['two overlay suffixes', `volume-${VID}.${SNAP}.${SNAP}`],
  ['a suffix that is not a UUID', `volume-${VID}.snap`],
  ['hyphens only in UUID shape', `volume-${VID}.${'-'.repeat(36)}`],
  ['fullwidth digit look-alike', `volume-${VID}.${SNAP.replace('1', '\uff11')}`],
  ['Cyrillic a look-alike', `volume-${VID}.${SNAP.replace('a', '\u0430')}`],
  ['Cyrillic o in "volume"', `v\u043elume-${VID}`],
  ['non-breaking hyphen', `volume-${VID.replace('-', '\u2011')}`],
  ['zero-width space', `volume-\u200b${VID}`],
  ['case-folded prefix', `VOLUME-${VID}`],
  ['overlong', `volume-${VID}.${SNAP}${'0'.repeat(4096)}`],
  ['an overlong name of 255+ characters', `volume-${VID}.${'a'.repeat(300)}`],
];

describe('volume names: the one rule', () => {
  it('accepts the base file and overlays of the volume, bare', () => {
    expect(isOwnFileName(`volume-${VID}`, VID)).to.equal(true);
    expect(isOwnFileName(`volume-${VID}.${SNAP}`, VID)).to.equal(true);
    expect(isOwnFileName(overlayFileName(VID, SNAP), VID)).to.equal(true);
    expect(isOwnOverlayName(`volume-${VID}`, VID)).to.equal(false);
    expect(isOwnOverlayName(`volume-${VID}.${SNAP}`, VID)).to.equal(true);
    expect(codeOf(() => assertOwnFileName(`volume-${VID}.${SNAP}`, VID))).to.equal(undefined);
  });

  for (const [why, name] of HOSTILE) {
    it(`refuses ${why}`, () => {
      expect(isOwnFileName(name, VID), JSON.stringify(name)).to.equal(false);
      expect(isOwnOverlayName(name, VID)).to.equal(false);
      expect(codeOf(() => assertOwnFileName(name, VID))).to.equal('FILE_NAME_UNSAFE');
      expect(codeOf(() => assertOwnFileName(name, VID, { code: 'IMAGE_UNSAFE_BACKING' }))).to.equal('IMAGE_UNSAFE_BACKING');
    });
  }

  it('refuses values that are not strings at all', () => {
    for (const v of [null, undefined, 42, {}, [`volume-${VID}`], { toString: () => `volume-${VID}` }]) {
      expect(isOwnFileName(v, VID), String(v)).to.equal(false);
      expect(codeOf(() => assertOwnFileName(v, VID))).to.equal('FILE_NAME_UNSAFE');
    }
  });

  it('validates the volume id before building a pattern from it (no regex injection)', () => {
    for (const bad of ['.*', `${VID}|.*`, '', `${VID}\n`, `../${VID}`]) {
      expect(codeOf(() => isOwnFileName(`volume-${VID}`, bad)), bad).to.equal('INVALID_ID');
      expect(codeOf(() => infoFileName(bad)), bad).to.equal('INVALID_ID');
    }
    expect(codeOf(() => overlayFileName(VID, '../x'))).to.equal('INVALID_ID');
  });

  it('the compiled pattern kept per volume id is that volume\'s alone, and a refused id is refused every time', () => {
    for (let round = 0; round < 2; round++) {
      expect(isOwnFileName(`volume-${VID}.${SNAP}`, VID)).to.equal(true);
      expect(isOwnFileName(`volume-${OTHER}.${SNAP}`, OTHER)).to.equal(true);
      expect(isOwnFileName(`volume-${OTHER}.${SNAP}`, VID)).to.equal(false);
      expect(isOwnFileName(`volume-${VID}`, OTHER)).to.equal(false);
      expect(codeOf(() => isOwnFileName(`volume-${VID}`, `${VID}|.*`))).to.equal('INVALID_ID');
    }
  });

  it('UUIDs: ASCII hex only, anchored', () => {
    expect(isUuid(VID)).to.equal(true);
    expect(isUuid(VID.toUpperCase())).to.equal(true);
    for (const bad of [`${VID}\n`, ` ${VID}`, VID.replace('-', ''), VID.replace('a', '\u0430'), '-'.repeat(36), `${VID}0`, 42, null]) {
      expect(isUuid(bad), String(bad)).to.equal(false);
      expect(codeOf(() => assertUuid(bad, 'snapshot id'))).to.equal('INVALID_ID');
    }
  });

  it('the volume-agnostic patterns (request schemas, manage source names) are as strict', () => {
    expect(VOLUME_FILE_PATTERN.test(`volume-${OTHER}.${SNAP}`)).to.equal(true);
    expect(BASE_FILE_PATTERN.exec(`volume-${OTHER}`)?.[1]).to.equal(OTHER);
    for (const [why, name] of HOSTILE) {
      if (why.startsWith('another volume') || why.startsWith('own id as')) continue;
      expect(VOLUME_FILE_PATTERN.test(name), why).to.equal(false);
      expect(BASE_FILE_PATTERN.test(name), why).to.equal(false);
    }
  });

  it('volumeIdOfFile: the volume an image name belongs to, null for anything else', () => {
    expect(volumeIdOfFile(`volume-${VID}`)).to.equal(VID);
    expect(volumeIdOfFile(`volume-${VID}.${SNAP}`)).to.equal(VID);
    for (const [why, name] of HOSTILE) {
      if (why.startsWith('another volume') || why.startsWith('own id as')) continue;
      expect(volumeIdOfFile(name), why).to.equal(null);
    }
    expect(volumeIdOfFile(42)).to.equal(null);
  });

  it('belongsToVolume lists the volume\'s images, info file and temps, never another volume\'s', () => {
    for (const n of [`volume-${VID}`, `volume-${VID}.info`, `volume-${VID}.${SNAP}`, `.volume-${VID}.info.ab.tmp`]) expect(belongsToVolume(n, VID), n).to.equal(true);
    for (const n of [`volume-${OTHER}`, `volume-${VID}x`, `xvolume-${VID}`, `.volume-${OTHER}.${VID}.tmp`, `volume-${OTHER}.${VID}`]) {
      expect(belongsToVolume(n, VID), n).to.equal(false);
    }
    expect(volumeIdsIn([`volume-${VID}`, `volume-${OTHER}.info`, `volume-${VID}.${SNAP}`, `../volume-${SNAP}`, `volume-${SNAP}\n`])).to.deep.equal([VID, OTHER].sort());
  });
  it('temp names: tempFileName makes a temp of the volume, never a final name; the info file\'s temps are told apart', () => {
    const t = tempFileName(VID);
    expect(isTempOfVolume(t, VID)).to.equal(true);
    expect(belongsToVolume(t, VID)).to.equal(true);
    expect(isInfoTempOfVolume(t, VID)).to.equal(false);
    expect(volumeIdOfFile(t)).to.equal(null);
    expect(VOLUME_FILE_PATTERN.test(t)).to.equal(false);
    expect(isInfoTempOfVolume(`.volume-${VID}.info.0a1b.tmp`, VID)).to.equal(true);
    for (const n of [`volume-${VID}`, `volume-${VID}.info`, `.volume-${VID}.info.0a1b`, `.volume-${OTHER}.info.0a1b.tmp`]) {
      expect(isInfoTempOfVolume(n, VID), n).to.equal(false);
    }
    for (const n of [`volume-${VID}.${SNAP}`, `.volume-${OTHER}.${SNAP}.tmp`, `.volume-${VID}x.tmp`]) expect(isTempOfVolume(n, VID), n).to.equal(false);
  });
});
