/**
 * The export's read-ahead (drivers/remotefs/export/read-ahead.ts): a file's bytes in order, in
 * pieces of shared memory (the hashing worker reads them in place), whatever the length; a file
 * shorter than announced is refused (IMAGE_DIFFERS_FROM_INFO), with no read left running.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readAhead } from '../../../../../drivers/remotefs/export/read-ahead.js';

const MiB = 1024 * 1024;

describe('export read-ahead (large pieces of shared memory)', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'read-ahead-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('yields every byte in order, in shared memory, for empty, small and multi-piece files', async () => {
    for (const size of [0, 1, 4 * MiB, 13 * MiB + 7]) {
      const data = randomBytes(size);
      const file = path.join(dir, `f-${size}`);
      await writeFile(file, data);
      const fh = await open(file, 'r');
      try {
        const pieces: Buffer[] = [];
        for await (const p of readAhead(fh, `f-${size}`, size)) pieces.push(p);
        expect(pieces.every((p) => p.buffer instanceof SharedArrayBuffer), `${size}`).to.equal(true);
        expect(Buffer.concat(pieces).equals(data), `${size}`).to.equal(true);
      } finally {
        await fh.close();
      }
    }
  });

  it('refuses a file shorter than announced', async () => {
    const file = path.join(dir, 'short');
    await writeFile(file, randomBytes(5 * MiB));
    const fh = await open(file, 'r');
    try {
      let err: unknown = null;
      try {
        for await (const p of readAhead(fh, 'short', 9 * MiB)) expect(p.length).to.be.greaterThan(0);
      } catch (e) {
        err = e;
      }
      expect((err as { code?: string } | null)?.code).to.equal('IMAGE_DIFFERS_FROM_INFO');
    } finally {
      await fh.close();
    }
  });
});
