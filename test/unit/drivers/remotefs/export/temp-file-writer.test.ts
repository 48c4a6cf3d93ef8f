/**
 * The import's temp-file writer (drivers/remotefs/export/temp-file-writer.ts): slab-aligned
 * pieces past the page cache (O_DIRECT) where the file system takes it, the rest (an unaligned
 * tail, an unaligned buffer, a file system or a write that refuses O_DIRECT) through it; every byte lands where
 * it was asked to, whichever path wrote it; the file is always a new one.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat, symlink, writeFile, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ALIGN, SlabAppender, TempFileWriter, alignedSlab, reopenDirect } from '../../../../../drivers/remotefs/export/temp-file-writer.js';

const MiB = 1024 * 1024;

async function writeInSlabs(file: string, data: Buffer, slabBytes: number, o: { direct?: boolean; openDirect?: (fd: number) => Promise<FileHandle> } = {}): Promise<void> {
  const w = await TempFileWriter.create(file, { direct: o.direct ?? true, ...(o.openDirect ? { openDirect: o.openDirect } : {}) });
  try {
    const slab = alignedSlab(slabBytes);
    for (let at = 0; at < data.length; at += slabBytes) {
      const n = Math.min(slabBytes, data.length - at);
      data.copy(slab, 0, at, at + n);
      await w.write(slab.subarray(0, n), at);
    }
    await w.datasync();
  } finally {
    await w.close();
  }
}

/** A stand-in for the O_DIRECT reopen whose every write fails with `code`. */
function directWritesFailing(code: string): (fd: number) => Promise<FileHandle> {
  return async (fd) => {
    const h = await open(`/proc/self/fd/${fd}`, 'r+');
    h.write = (() => Promise.reject(Object.assign(new Error(code), { code }))) as FileHandle['write'];
    return h;
  };
}

/**
 * Which path the writes took, seen through the `openDirect` seam: the real O_DIRECT reopen, its
 * handle's writes counted (calls and bytes written). Every byte of the file that the direct
 * handle did not write went through the page cache.
 */
function observedDirect(): { seen: { opened: number; writes: number; bytes: number }; openDirect: (fd: number) => Promise<FileHandle> } {
  const seen = { opened: 0, writes: 0, bytes: 0 };
  const openDirect = async (fd: number): Promise<FileHandle> => {
    const h = await reopenDirect(fd);
    seen.opened += 1;
    const write = h.write.bind(h) as (...args: unknown[]) => Promise<{ bytesWritten: number }>;
    h.write = (async (...args: unknown[]) => {
      seen.writes += 1;
      const r = await write(...args);
      seen.bytes += r.bytesWritten;
      return r;
    }) as FileHandle['write'];
    return h;
  };
  return { seen, openDirect };
}

describe('import temp-file writer (O_DIRECT where it can, the page cache where it must)', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'temp-writer-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('slabs are shared memory, page-aligned in size; other sizes are refused', () => {
    const s = alignedSlab(MiB);
    expect(s.buffer).to.be.instanceOf(SharedArrayBuffer);
    expect(s.length).to.equal(MiB);
    expect(() => alignedSlab(MiB + ALIGN)).to.throw(/not a multiple/);
  });

  it('on a disk file system, aligned slabs go past the page cache and only the unaligned tail through it; the bytes are exact', async () => {
    const data = randomBytes(3 * MiB + 1000);
    const { seen, openDirect } = observedDirect();
    await writeInSlabs(path.join(dir, 'disk'), data, MiB, { openDirect });
    // Three slabs direct; the file's other 1000 bytes (exact, below) through the page cache.
    expect(seen).to.deep.equal({ opened: 1, writes: 3, bytes: 3 * MiB });
    expect((await stat(path.join(dir, 'disk'))).size).to.equal(data.length);
    expect((await readFile(path.join(dir, 'disk'))).equals(data)).to.equal(true);
  });

  it('a buffer that is not aligned, or direct not asked for, goes through the page cache', async () => {
    const data = randomBytes(2 * MiB);
    const notAsked = observedDirect();
    await writeInSlabs(path.join(dir, 'not-asked'), data, MiB, { direct: false, openDirect: notAsked.openDirect });
    expect(notAsked.seen).to.deep.equal({ opened: 0, writes: 0, bytes: 0 });
    expect((await readFile(path.join(dir, 'not-asked'))).equals(data)).to.equal(true);

    const offset = observedDirect();
    const w = await TempFileWriter.create(path.join(dir, 'offset'), { direct: true, openDirect: offset.openDirect });
    const slab = alignedSlab(2 * MiB);
    data.copy(slab, 16, 0, MiB);
    await w.write(slab.subarray(16, 16 + MiB), 0);
    await w.datasync();
    await w.close();
    expect(offset.seen).to.deep.equal({ opened: 1, writes: 0, bytes: 0 });
    expect((await readFile(path.join(dir, 'offset'))).equals(data.subarray(0, MiB))).to.equal(true);
  });

  it('a file system that refuses O_DIRECT at the open: every byte through the page cache, exact', async () => {
    const data = randomBytes(2 * MiB + 512);
    let asked = 0;
    const refuse = () => { asked += 1; return Promise.reject(Object.assign(new Error('refused'), { code: 'EINVAL' })); };
    await writeInSlabs(path.join(dir, 'refused-open'), data, MiB, { openDirect: refuse });
    // Asked once, refused: no direct handle, so every byte (exact, below) through the page cache.
    expect(asked).to.equal(1);
    expect((await readFile(path.join(dir, 'refused-open'))).equals(data)).to.equal(true);
  });

  it('a direct write refused (EINVAL): that write and every later one through the page cache, exact', async () => {
    const data = randomBytes(3 * MiB);
    let tries = 0;
    const refusingWrites = async (fd: number): Promise<FileHandle> => {
      const h = await open(`/proc/self/fd/${fd}`, 'r+');
      h.write = (() => { tries += 1; return Promise.reject(Object.assign(new Error('refused'), { code: 'EINVAL' })); }) as FileHandle['write'];
      return h;
    };
    await writeInSlabs(path.join(dir, 'refused-write'), data, MiB, { openDirect: refusingWrites });
    // One direct write tried and refused, none after it: every byte (exact, below) through the page cache.
    expect(tries).to.equal(1);
    expect((await readFile(path.join(dir, 'refused-write'))).equals(data)).to.equal(true);
  });

  it('another error of a direct write is the write\'s error, not hidden by a retry', async () => {
    const w = await TempFileWriter.create(path.join(dir, 'enospc'), { direct: true, openDirect: directWritesFailing('ENOSPC') });
    try {
      const err = await w.write(alignedSlab(MiB), 0).then(() => null, (e: NodeJS.ErrnoException) => e);
      expect(err?.code).to.equal('ENOSPC');
    } finally {
      await w.close();
    }
  });

  it('an appender takes chunks of any size (512-byte headers, odd pieces) and lays them down exactly, whole slabs past the page cache', async () => {
    const sizes = [512, 4 * MiB, 512, 3 * MiB + 17, 1, 9 * MiB, 512, 1000];
    const chunks = sizes.map((n) => randomBytes(n));
    const expected = Buffer.concat(chunks);
    const file = path.join(dir, 'appended');
    const { seen, openDirect } = observedDirect();
    const w = await TempFileWriter.create(file, { direct: true, mode: 0o640, openDirect });
    try {
      const a = new SlabAppender(w);
      for (const c of chunks) {
        await a.append(c);
        // The appender copied it: the caller may reuse its buffer at once.
        c.fill(0);
      }
      await a.finish();
      await w.sync();
    } finally {
      await w.close();
    }
    expect((await stat(file)).size).to.equal(expected.length);
    expect((await stat(file)).mode & 0o777).to.equal(0o640 & ~process.umask());
    // 16 MiB + 2554 bytes: two whole 8 MiB slabs direct, then a tail shorter than ALIGN through the page cache.
    expect(seen).to.deep.equal({ opened: 1, writes: 2, bytes: 16 * MiB });
    expect((await readFile(file)).equals(expected)).to.equal(true);
  });

  it('an appender\'s refused write is its error, at the next append or at finish', async () => {
    const w = await TempFileWriter.create(path.join(dir, 'append-enospc'), { direct: true, openDirect: directWritesFailing('ENOSPC') });
    try {
      const a = new SlabAppender(w);
      const err = await (async () => {
        await a.append(randomBytes(8 * MiB));
        await a.append(randomBytes(8 * MiB + 1));
        await a.finish();
      })().then(() => null, (e: NodeJS.ErrnoException) => e);
      expect(err?.code).to.equal('ENOSPC');
    } finally {
      await w.close();
    }
  });

  it('never opens an existing file or a symlink: EEXIST, and the target is untouched', async () => {
    const victim = path.join(dir, 'victim');
    await writeFile(victim, 'keep');
    await symlink(victim, path.join(dir, 'link'));
    for (const name of ['victim', 'link']) {
      const err = await TempFileWriter.create(path.join(dir, name), { direct: true }).then(() => null, (e: NodeJS.ErrnoException) => e);
      expect(err?.code, name).to.equal('EEXIST');
    }
    expect(await readFile(victim, 'utf8')).to.equal('keep');
  });
});
