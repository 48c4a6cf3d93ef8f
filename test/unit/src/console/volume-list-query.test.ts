import { expect } from 'chai';
import { StorageError } from '../../../../lib/core/errors.js';
import { DEFAULT_PAGE, MAX_PAGE, parseVolumeListQuery, volumeListHref } from '../../../../src/console/volume-list-query.js';

const V = '0b0c6a57-5d51-4a8e-9a57-0d3f3c1a2b3c';

function refused(q: Record<string, unknown>): string {
  try {
    parseVolumeListQuery(q);
  } catch (err) {
    expect(err).to.be.instanceOf(StorageError);
    expect((err as StorageError).code).to.equal('INVALID_INPUT');
    return (err as StorageError).message;
  }
  throw new Error(`accepted ${JSON.stringify(q)}`);
}

describe('console: the volume list query', () => {
  it('empty form fields mean no filter; the default page size', () => {
    expect(parseVolumeListQuery({ name: '', status: '', project: '' })).to.deep.equal({ limit: DEFAULT_PAGE });
  });

  it('takes the filters, the page size and a marker', () => {
    expect(parseVolumeListQuery({ name: 'db', status: 'in-use', project: 'p1', limit: '7', marker: V }))
      .to.deep.equal({ name: 'db', status: 'in-use', project: 'p1', limit: 7, marker: V });
  });

  it('refuses a bad page size, marker or status, and a repeated field, naming the field', () => {
    for (const limit of ['0', String(MAX_PAGE + 1), '2.5', '-1', 'ten']) expect(refused({ limit })).to.match(/^limit/);
    expect(refused({ marker: 'v1' })).to.match(/^marker must be a UUID/);
    expect(refused({ status: 'gone' })).to.match(/^status must be one of .*available/);
    expect(refused({ name: ['a', 'b'] })).to.match(/^name must be given once/);
    expect(refused({ name: 'x'.repeat(256) })).to.match(/^name must be at most 255/);
  });

  it('links keep the filters and the page size, and add the marker', () => {
    const q = parseVolumeListQuery({ name: 'a b&c', status: 'available', limit: '3' });
    expect(volumeListHref(q, V)).to.equal(`/console/volumes?name=a+b%26c&status=available&limit=3&marker=${V}`);
    expect(volumeListHref(parseVolumeListQuery({}))).to.equal('/console/volumes');
  });
});
