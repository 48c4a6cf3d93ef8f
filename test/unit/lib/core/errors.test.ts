import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, StorageError, isStorageError, toStorageError } from '../../../../lib/core/errors.js';
import { run } from '../../../../lib/core/process.js';

const errno = (code: string, message: string) => Object.assign(new Error(message), { code });

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

  it('a share that went away (ENOTCONN, EIO, ESTALE, EHOSTDOWN) is SHARE_UNAVAILABLE (503), not INTERNAL', () => {
    for (const code of ['ENOTCONN', 'EIO', 'ESTALE', 'EHOSTDOWN']) {
      const orig = errno(code, `${code}: stat volume-x.info`);
      const w = toStorageError(orig);
      expect(w.code, code).to.equal('SHARE_UNAVAILABLE');
      expect(w.httpStatus).to.equal(503);
      expect(w.details.errno).to.equal(code);
      expect(w.cause).to.equal(orig);
    }
    expect(toStorageError(errno('ENOSPC', 'full')).code).to.equal('NO_SPACE');
    expect(toStorageError(errno('EACCES', 'denied')).code, 'other errnos stay the fallback').to.equal('INTERNAL');
  });

  it('a child process that met the share gone fails SHARE_UNAVAILABLE; other failures stay PROCESS_FAILED', async () => {
    const fail = (stderr: string) => run('sh', ['-c', `echo "${stderr}" >&2; exit 1`]).then(() => null, (e: unknown) => e);
    const gone = await fail('qemu-img: Could not open volume-x: Transport endpoint is not connected');
    expect(isStorageError(gone, 'SHARE_UNAVAILABLE'), String(gone)).to.equal(true);
    expect((gone as StorageError).message).to.contain('Transport endpoint is not connected');
    expect(isStorageError(await fail('qemu-img: error while reading: Input/output error'), 'SHARE_UNAVAILABLE')).to.equal(true);
    expect(isStorageError(await fail('qemu-img: Could not open volume-x: Stale file handle'), 'SHARE_UNAVAILABLE')).to.equal(true);
    expect(isStorageError(await fail('qemu-img: Image is corrupt'), 'PROCESS_FAILED')).to.equal(true);
  });

  it("qemu's corruption event with its EIO is the image's fault (IMAGE_CORRUPT, 4xx), not a share gone (503)", async () => {
    const fail = (stderr: string) => run('sh', ['-c', `printf '%s\\n' "${stderr}" >&2; exit 1`]).then(() => null, (e: unknown) => e);
    const corrupt = await fail('qcow2: Image is corrupt: Cluster allocation offset 0x50200 unaligned (L2 offset: 0x40000, L2 index: 0); further non-fatal corruption events will be suppressed\nqemu-img: error while reading block status at offset 0: Input/output error');
    expect(isStorageError(corrupt, 'IMAGE_CORRUPT'), String(corrupt)).to.equal(true);
    expect((corrupt as StorageError).httpStatus).to.be.within(400, 499);
    expect(isStorageError(await fail('qcow2: Marking image as corrupt: Preventing invalid write on metadata'), 'IMAGE_CORRUPT')).to.equal(true);
  });

  it('documents every code in the README table, and nothing else', () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.split('## Error codes')[1]?.split('\n## ')[0] ?? '';
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).to.deep.equal(Object.keys(ERROR_CODES).sort());
  });
});
