/**
 * The export's archive writer (drivers/remotefs/export/archive-write.ts) with pieces reused from a
 * pool (read-ahead.ts PiecePool): into a file, whose writes say when they are done, the pieces of
 * several multi-piece files are reused, and the archive still holds every byte of every file with
 * the right checksums (a piece reused too early would put another piece's bytes in the archive);
 * into a sink that keeps the chunks it is given (as one passing them on would), nothing is reused.
 * The pool itself gives a piece back only once both of its readers are done with it.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { packFile, streamArchive } from '../../../../../drivers/remotefs/export/archive-write.js';
import { PiecePool } from '../../../../../drivers/remotefs/export/read-ahead.js';
import { unpack } from '../../../../fixtures/export/tar-entries.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('export archive writer (pieces reused into a file)', function () {
  this.timeout(120_000);
  let dir: string;
  const files = new Map<string, Buffer>();
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'archive-write-'));
    for (const [name, size] of [['a', 13 * MiB + 5], ['b', 3 * MiB], ['c', 21 * MiB + 511]] as const) {
      const data = randomBytes(size);
      files.set(name, data);
      await writeFile(path.join(dir, name), data);
    }
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  async function write(sink: Writable): Promise<Map<string, string>> {
    return streamArchive(Buffer.from('{}'), sink, {}, async (pack, sums) => {
      for (const [name, data] of files) sums.set(name, await packFile(pack, dir, name, data.length));
    });
  }

  function expectArchive(archive: Buffer, sums: Map<string, string>, entries: { name: string; data?: Buffer }[]): void {
    for (const [name, data] of files) {
      const e = entries.find((x) => x.name === name);
      expect(e?.data?.equals(data), `${name}'s bytes in the archive`).to.equal(true);
      expect(sums.get(name), name).to.equal(sha(data));
    }
    expect(archive.length % 512).to.equal(0);
  }

  it('into a file: every byte and checksum right, pieces reused', async () => {
    const before = PiecePool.created;
    const out = path.join(dir, 'out.tar');
    for (let round = 0; round < 3; round++) {
      const sums = await write(createWriteStream(out));
      const archive = await readFile(out);
      expectArchive(archive, sums, await unpack(archive));
    }
    // 37 MiB a round in 4 MiB pieces (11 pieces) three times: far fewer allocated than read.
    expect(PiecePool.created - before).to.be.greaterThan(0).and.lessThan(20);
  });

  it('into a sink that keeps its chunks: every byte right, nothing reused', async () => {
    const before = PiecePool.created;
    const chunks: Buffer[] = [];
    const sums = await write(new Writable({ write(chunk: Buffer, _e, cb) { chunks.push(chunk); cb(); } }));
    const archive = Buffer.concat(chunks);
    expectArchive(archive, sums, await unpack(archive));
    expect(PiecePool.created - before).to.equal(0);
  });

  it('gives a piece back only when both readers are done', () => {
    const pool = new PiecePool();
    const p = pool.take(100);
    pool.done(p);
    expect(pool.take(100).buffer).to.not.equal(p.buffer);
    pool.done(p);
    expect(pool.take(50).buffer).to.equal(p.buffer);
    // Anything not taken from the pool is ignored.
    pool.done(Buffer.alloc(10));
  });
});
