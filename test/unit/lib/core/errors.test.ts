import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, StorageError, isStorageError, toStorageError } from '../../../../lib/core/errors.js';

describe('errors', () => {
  it('carries code, details, cause and an HTTP status', () => {
    const cause = new Error('inner');
    const e = new StorageError('VOLUME_BUSY', 'busy', { cause, details: { volumeId: 'v' } });
    expect(e.code).to.equal('VOLUME_BUSY');
    expect(e.httpStatus).to.equal(409);
    expect(e.cause).to.equal(cause);
    expect(e.toJSON()).to.deep.equal({ code: 'VOLUME_BUSY', message: 'busy', volumeId: 'v' });
    expect(isStorageError(e, 'VOLUME_BUSY')).to.equal(true);
    expect(isStorageError(e, 'INTERNAL')).to.equal(false);
  });

  it('wraps foreign errors keeping the original as cause', () => {
    const orig = new TypeError('x');
    const w = toStorageError(orig);
    expect(w.code).to.equal('INTERNAL');
    expect(w.cause).to.equal(orig);
  });

  it('documents every code in the README table, and nothing else', () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.split('## Error codes')[1]?.split('\n## ')[0] ?? '';
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).to.deep.equal(Object.keys(ERROR_CODES).sort());
  });
});
