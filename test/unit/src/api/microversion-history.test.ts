import { expect } from 'chai';
import { HISTORY } from '../../../../src/api/microversions/history.js';
import { MAX_VERSION, compareVersions, honestMaximum, parseVersion } from '../../../../src/api/microversions/version.js';

describe('microversions: the history table and the honest maximum (pure)', () => {
  it('has one row per Cinder version from 3.0 up, in order, none skipped', () => {
    HISTORY.forEach((row, i) => expect(row.version, `row ${i}`).to.equal(`3.${i}`));
  });

  it('every refused row says why and how a client meets it; a served one has no refusal', () => {
    for (const row of HISTORY) {
      if (row.status === 'refused') {
        expect(row.reason, row.version).to.be.a('string').and.not.equal('');
        expect(row.probe, row.version).to.be.an('object');
      }
      if (row.status === 'served') expect(row.probe, row.version).to.equal(undefined);
    }
  });

  it('advertises the last version up to which every row is served or refused with a reason', () => {
    const firstGap = HISTORY.find((r) => r.status === 'missing');
    const expected = firstGap ? HISTORY[HISTORY.indexOf(firstGap) - 1]!.version : HISTORY[HISTORY.length - 1]!.version;
    expect(MAX_VERSION).to.equal(expected);
  });

  it('a missing row, or a refusal without a reason, caps the maximum below it', () => {
    const rows = [{ version: '3.0', status: 'served' }, { version: '3.1', status: 'refused', reason: 'r' }, { version: '3.2', status: 'missing' }, { version: '3.3', status: 'served' }];
    expect(honestMaximum(rows)).to.equal('3.1');
    expect(honestMaximum([{ version: '3.0', status: 'served' }, { version: '3.1', status: 'refused' }])).to.equal('3.0');
  });

  it('compares versions as numbers, not text', () => {
    expect(compareVersions(parseVersion('3.9')!, parseVersion('3.10')!)).to.be.below(0);
    for (const bad of ['3', '3.', '03.1', '3.01', 'v3.1', '3.1.0', '']) expect(parseVersion(bad), bad).to.equal(null);
  });
});
