/**
 * An info file on a share is hostile input of unbounded size (anyone who can write the share can
 * write one): a file above MAX_INFO_BYTES is refused unread with INFO_FILE_CORRUPT, one at the
 * bound is read, and the refusal changes nothing.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MAX_INFO_BYTES, readInfo } from '../../../../drivers/remotefs/info-file.js';
import { infoFileName } from '../../../../lib/core/volume-names.js';
import { isStorageError } from '../../../../lib/core/errors.js';

/** Valid JSON (a Cinder-style info file) of exactly `bytes` bytes. */
function cinderInfo(volumeId: string, bytes: number): string {
  const head = `{"active":"volume-${volumeId}","pad":"`;
  return `${head}${'a'.repeat(bytes - head.length - 2)}"}`;
}

describe('info file: bounded read', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'qcs-info-bound-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('reads an info file of exactly the bound', async () => {
    const vid = randomUUID();
    await writeFile(path.join(dir, infoFileName(vid)), cinderInfo(vid, MAX_INFO_BYTES));
    const info = await readInfo(dir, vid);
    expect(info?.raw.active).to.equal(`volume-${vid}`);
  });

  it('refuses one byte more with INFO_FILE_CORRUPT, unread, and leaves it as it was', async () => {
    const vid = randomUUID();
    const file = path.join(dir, infoFileName(vid));
    const text = cinderInfo(vid, MAX_INFO_BYTES + 1);
    await writeFile(file, text);
    const err = await readInfo(dir, vid).then(() => null, (e: unknown) => e);
    expect(isStorageError(err, 'INFO_FILE_CORRUPT'), String(err)).to.equal(true);
    expect(await readFile(file, 'utf8')).to.equal(text);
  });
});
