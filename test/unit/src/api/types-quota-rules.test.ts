/**
 * The pure rules of volume types and quotas: what each extra spec means (or why it is refused),
 * which shares a share pattern admits, and when a request exceeds a quota.
 */
import { expect } from 'chai';
import { StorageError } from '../../../../lib/core/errors.js';
import { sharePatternMatches } from '../../../../lib/shares/share-pattern.js';
import { applySpecs, type SpecContext } from '../../../../src/api/usecases/volume-types/extra-specs.js';
import { firstExceeded, overQuota } from '../../../../src/api/usecases/quota/over-limit.js';

const CTX: SpecContext = { backendName: 'remotefs', defaultFormat: 'qcow2', shareAddresses: ['gluster1:/vol-ssd', 'gluster2:/vol-hdd', '/srv/local0'] };

function refusal(fn: () => unknown): StorageError {
  try {
    fn();
  } catch (err) {
    return err as StorageError;
  }
  throw new Error('not refused');
}

describe('volume types: extra specs', () => {
  it('applies format, preallocation and share selection; accepts its own backend name', () => {
    expect(applySpecs({}, CTX)).to.deep.equal({});
    expect(applySpecs({ volume_backend_name: 'remotefs', 'qcowshare:format': 'raw', 'qcowshare:preallocation': 'falloc', 'qcowshare:share': '*ssd' }, CTX))
      .to.deep.equal({ format: 'raw', preallocation: 'falloc', sharePattern: '*ssd' });
    expect(applySpecs({ 'qcowshare:preallocation': 'metadata' }, CTX)).to.deep.equal({ preallocation: 'metadata' });
  });

  it('refuses, with VOLUME_TYPE_SPEC_UNSUPPORTED naming the spec, what it cannot honour', () => {
    const cases: Record<string, string>[] = [
      { volume_backend_name: 'lvm' }, { 'qcowshare:format': 'vmdk' }, { 'qcowshare:preallocation': 'sparse' },
      { 'qcowshare:share': 'gluster9:/*' }, { 'qcowshare:share': '' }, { multiattach: '<is> True' },
      { 'qcowshare:format': 'raw', 'qcowshare:preallocation': 'metadata' },
    ];
    for (const specs of cases) {
      const e = refusal(() => applySpecs(specs, CTX));
      expect(e.code, JSON.stringify(specs)).to.equal('VOLUME_TYPE_SPEC_UNSUPPORTED');
      expect(Object.keys(specs)).to.include(e.details.spec);
    }
    // raw by configuration: metadata preallocation is refused there too.
    expect(refusal(() => applySpecs({ 'qcowshare:preallocation': 'metadata' }, { ...CTX, defaultFormat: 'raw' })).code).to.equal('VOLUME_TYPE_SPEC_UNSUPPORTED');
  });
});

describe('share patterns', () => {
  it('matches the address exactly, * standing for any run of characters and nothing else special', () => {
    expect(sharePatternMatches('gluster1:/vol-ssd', 'gluster1:/vol-ssd')).to.equal(true);
    expect(sharePatternMatches('gluster1:/vol', 'gluster1:/vol-ssd')).to.equal(false);
    expect(sharePatternMatches('*ssd', 'gluster1:/vol-ssd')).to.equal(true);
    expect(sharePatternMatches('gluster*:/*', 'gluster2:/vol-hdd')).to.equal(true);
    expect(sharePatternMatches('/srv/local.', '/srv/local0')).to.equal(false);
    expect(sharePatternMatches('/srv/(local0|x)', '/srv/local0')).to.equal(false);
    expect(sharePatternMatches('*', '/srv/local0')).to.equal(true);
  });
});

describe('quotas: the over-limit rule', () => {
  const limits = { volumes: 2, snapshots: 1, gigabytes: 10 };
  it('admits up to the limit, refuses beyond it, and -1 is unlimited', () => {
    expect(firstExceeded(limits, { volumes: 1, snapshots: 0, gigabytes: 9 }, { volumes: 1, gigabytes: 1 })).to.equal(null);
    expect(firstExceeded(limits, { volumes: 2, snapshots: 0, gigabytes: 0 }, { volumes: 1, gigabytes: 1 })).to.deep.equal({ resource: 'volumes', limit: 2, inUse: 2, requested: 1 });
    expect(firstExceeded(limits, { volumes: 0, snapshots: 0, gigabytes: 9 }, { volumes: 1, gigabytes: 2 })).to.deep.equal({ resource: 'gigabytes', limit: 10, inUse: 9, requested: 2 });
    expect(firstExceeded({ ...limits, gigabytes: -1 }, { volumes: 0, snapshots: 0, gigabytes: 1e6 }, { volumes: 1, gigabytes: 1e6 })).to.equal(null);
    // A resource the request does not ask for is not checked (a project already over a lowered limit can still snapshot within its snapshot quota).
    expect(firstExceeded(limits, { volumes: 5, snapshots: 0, gigabytes: 0 }, { snapshots: 1, gigabytes: 1 })).to.equal(null);
    expect(firstExceeded({ ...limits, volumes: 0 }, { volumes: 0, snapshots: 0, gigabytes: 0 }, { volumes: 1 })?.resource).to.equal('volumes');
  });

  it("answers Cinder's overLimit shape: 413, retryAfter, the numbers", () => {
    const e = overQuota('p1', { resource: 'gigabytes', limit: 10, inUse: 9, requested: 2 });
    expect([e.code, e.httpStatus]).to.deep.equal(['OVER_QUOTA', 413]);
    expect(e.details).to.include({ retryAfter: '0', resource: 'gigabytes', limit: 10, in_use: 9, requested: 2 });
    expect(e.message).to.equal('Requested volume or snapshot exceeds allowed gigabytes quota. Requested 2G, quota is 10G and 9G has been consumed.');
  });
});
