/** The import request's volume_share values (validation/volume-share-map.ts): parsed, or refused with IMPORT_SHARE_MAP_INVALID. */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { isStorageError } from '../../../../../lib/core/errors.js';
import { parseVolumeShares } from '../../../../../src/api/validation/volume-share-map.js';

function reason(raw: unknown): unknown {
  try {
    parseVolumeShares(raw);
  } catch (err) {
    if (isStorageError(err, 'IMPORT_SHARE_MAP_INVALID')) return (err.details as { reason: string }).reason;
    throw err;
  }
  return 'accepted';
}

describe('api: the instance import\'s volume_share parameter', () => {
  const [a, b] = [randomUUID(), randomUUID()];

  it('absent: no mapping', () => {
    expect(parseVolumeShares(undefined)).to.deep.equal({});
  });

  it('one or several: id -> share, the first colon splitting (share addresses keep theirs), the id lower-cased', () => {
    expect(parseVolumeShares(`${a}:/srv/tier1`)).to.deep.equal({ [a]: '/srv/tier1' });
    expect(parseVolumeShares([`${a.toUpperCase()}:gluster1:/vol-fast`, `${b}:nfs.example:/export/x`])).to.deep.equal({ [a]: 'gluster1:/vol-fast', [b]: 'nfs.example:/export/x' });
  });

  it('refuses an id named twice (duplicate), whatever its case', () => {
    expect(reason([`${a}:/srv/x`, `${a.toUpperCase()}:/srv/y`])).to.equal('duplicate');
    expect(reason([`${a}:/srv/x`, `${a}:/srv/x`])).to.equal('duplicate');
  });

  it('refuses what is not <uuid>:<share> (malformed)', () => {
    for (const bad of ['', a, `${a}:`, `:${'/srv/x'}`, `not-a-uuid:/srv/x`, `${a} :/srv/x`, `${a}: /srv/x`, `${a}:/srv/x `, `${a}:${'x'.repeat(1025)}`, { [a]: '/srv/x' }, [[`${a}:/srv/x`]]]) {
      expect(reason(bad), JSON.stringify(bad).slice(0, 80)).to.equal('malformed');
    }
    expect(reason(Array.from({ length: 257 }, () => `${randomUUID()}:/srv/x`))).to.equal('malformed');
  });
});
