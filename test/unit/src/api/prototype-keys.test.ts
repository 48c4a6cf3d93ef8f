/**
 * Names of Object.prototype's members (`constructor`, `__proto__`, `toString`...) given where a
 * caller chooses a key: a lookup table that is a plain object finds the member under such a
 * name, which answered 500 for `?sort_key=constructor`, 501 for `/v3/toString`, 500 for the
 * volume summary once a volume had the metadata key `constructor`, and a 200 with a vanished key
 * for metadata `{"__proto__": ...}`. Each is a plain unknown name, or refused with a stable code.
 */
import { expect } from 'chai';
import { z } from 'zod';
import { isStorageError } from '../../../../lib/core/errors.js';
import { resolveDriverFactory } from '../../../../drivers/contract/registry.js';
import { unsupportedResourceOf } from '../../../../src/api/microversions/unsupported-resources.js';
import { addToSummary } from '../../../../src/api/usecases/volume-summary.js';
import { metadata, parseSort } from '../../../../src/api/validation/common.js';
import { metaItemBody, metadataBody } from '../../../../src/api/validation/metadata.js';
import { parse } from '../../../../src/api/validation/parse.js';
import { extraSpecs } from '../../../../src/api/validation/volume-types.js';
import type { VolumeRecord } from '../../../../src/db/records.js';

const MEMBERS = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty'];

describe('prototype member names as caller-chosen keys (unit)', () => {
  it('a sort key named after a prototype member is an unknown sort key', () => {
    for (const k of MEMBERS) {
      expect(parseSort(undefined, k, 'asc'), k).to.be.a('string').that.contains('invalid sort key');
      expect(parseSort(`name,${k.toLowerCase()}:asc`, undefined, undefined), k).to.be.a('string');
    }
  });

  it('no unsupported resource is found under a prototype member name', () => {
    for (const k of MEMBERS) {
      expect(unsupportedResourceOf(`/v3/${k}`), k).to.equal(undefined);
      expect(unsupportedResourceOf(`/v3/p-1/${k}`), k).to.equal(undefined);
    }
    expect(unsupportedResourceOf('/v3/backups')).to.equal('backups');
  });

  it('the volume summary counts metadata keys named after prototype members as any other key', () => {
    const vol = (m: Record<string, string>) => ({ sizeGiB: 1, metadata: m }) as unknown as VolumeRecord;
    const first = addToSummary({ total_count: 0, total_size: 0, metadata: {} }, [vol({ constructor: 'a', toString: 'b' }), vol({ constructor: 'c' })]);
    const sum = addToSummary(first, [vol(JSON.parse('{"__proto__": "d", "constructor": "a"}') as Record<string, string>)]);
    expect(JSON.stringify(sum)).to.equal(JSON.stringify({ total_count: 3, total_size: 3, metadata: { constructor: ['a', 'c'], toString: ['b'], ['__proto__']: ['d'] } }));
    expect(Object.getPrototypeOf(sum.metadata)).to.equal(Object.prototype);
  });

  it('a metadata or extra-spec key "__proto__" is refused (INVALID_INPUT), not dropped from a 200', () => {
    const schemas: [string, z.ZodType, string][] = [
      ['metadata', metadata, '{"a": "1", "__proto__": "x"}'],
      ['metadata body', metadataBody, '{"metadata": {"__proto__": "x"}}'],
      ['meta item', metaItemBody, '{"meta": {"__proto__": "x"}}'],
      ['extra specs', extraSpecs, '{"__proto__": "x"}'],
    ];
    for (const [what, schema, body] of schemas) {
      let code: string | undefined;
      try {
        parse(schema, JSON.parse(body), 'body');
      } catch (err) {
        code = isStorageError(err) ? err.code : String(err);
      }
      expect(code, what).to.equal('INVALID_INPUT');
    }
    // The other member names are ordinary keys, kept exactly.
    expect(parse(metadata, JSON.parse('{"constructor": "x", "toString": "y"}'), 'body')).to.deep.equal({ constructor: 'x', toString: 'y' });
    expect(parse(extraSpecs, { 'qcowshare:format': 'qcow2' }, 'body')).to.deep.equal({ 'qcowshare:format': 'qcow2' });
  });

  it('a driver named after a prototype member is an unknown driver (CONFIG_INVALID)', async () => {
    for (const k of ['constructor', 'toString']) {
      const err = await resolveDriverFactory(k).then(() => null, (e: unknown) => e);
      expect(isStorageError(err) ? err.code : String(err), k).to.equal('CONFIG_INVALID');
    }
  });
});
