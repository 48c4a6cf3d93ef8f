/** The instance import's share plan (share-map.ts): where each volume goes, the bytes per share, every refusal. */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { isStorageError } from '../../../../../lib/core/errors.js';
import { planShares, type SharePlanInput } from '../../../../../drivers/remotefs/export/share-map.js';

const [v1, v2, v3] = [randomUUID(), randomUUID(), randomUUID()];
const base: SharePlanInput = {
  volumes: [{ id: v1, bytes: 100 }, { id: v2, bytes: 20 }, { id: v3, bytes: 3 }],
  instanceBytes: 1000, map: {}, configured: ['/srv/a', 'gl:/tier1', 'nfs:/cheap'],
};

function refusal(input: SharePlanInput): { code: string; details: Record<string, unknown> } {
  try {
    planShares(input);
  } catch (err) {
    if (isStorageError(err)) return { code: err.code, details: err.details as Record<string, unknown> };
    throw err;
  }
  throw new Error('not refused');
}

describe('instance import: the share plan of a per-volume mapping', () => {
  it('with no map everything goes to the default share, the instance\'s files counted there too', () => {
    const p = planShares(base);
    expect([...p.volumeShare]).to.deep.equal([[v1, null], [v2, null], [v3, null]]);
    expect([...p.bytes]).to.deep.equal([[null, 1123]]);
  });

  it('each mapped volume goes to its share; the rest and the instance\'s files to the default; the bytes summed per share', () => {
    const p = planShares({ ...base, map: { [v1]: 'gl:/tier1', [v3]: 'gl:/tier1' } });
    expect([...p.volumeShare]).to.deep.equal([[v1, 'gl:/tier1'], [v2, null], [v3, 'gl:/tier1']]);
    expect(Object.fromEntries([...p.bytes].map(([k, v]) => [String(k), v]))).to.deep.equal({ null: 1020, 'gl:/tier1': 103 });
  });

  it('every volume mapped: the default share keeps only the instance\'s files', () => {
    const p = planShares({ ...base, map: { [v1]: '/srv/a', [v2]: 'nfs:/cheap', [v3]: 'gl:/tier1' } });
    expect(p.bytes.get(null)).to.equal(1000);
    expect(p.bytes.get('/srv/a')).to.equal(100);
  });

  it('refuses a volume the archive does not carry (IMPORT_SHARE_MAP_INVALID, unknown_volume)', () => {
    const other = randomUUID();
    expect(refusal({ ...base, map: { [v1]: '/srv/a', [other]: '/srv/a' } })).to.deep.equal({ code: 'IMPORT_SHARE_MAP_INVALID', details: { reason: 'unknown_volume', volume_id: other } });
  });

  it('refuses a share that is not configured, nor a near miss of one (unknown_share)', () => {
    for (const share of ['/srv/b', '/srv/a/', 'gl:/tier1 ', 'GL:/tier1', '']) {
      expect(refusal({ ...base, map: { [v2]: share } }), share).to.deep.equal({ code: 'IMPORT_SHARE_MAP_INVALID', details: { reason: 'unknown_share', volume_id: v2, share } });
    }
  });

  it('a name of Object.prototype is never taken for a mapped volume', () => {
    expect(refusal({ ...base, map: JSON.parse('{"__proto__": "/srv/a"}') as Record<string, string> }).details.reason).to.equal('unknown_volume');
    const p = planShares({ ...base, volumes: [{ id: 'constructor', bytes: 1 }], map: {} });
    expect(p.volumeShare.get('constructor')).to.equal(null);
  });
});
