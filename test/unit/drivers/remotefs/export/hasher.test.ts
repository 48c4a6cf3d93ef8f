/**
 * The entry hash (drivers/remotefs/export/hasher.ts): large entries hashed by the worker give the
 * same SHA-256 as an inline hash, whatever the chunking, with more queued than the worker's
 * in-flight bound (update waits), several at once; a process that used it still exits by itself.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { entryHash } from '../../../../../drivers/remotefs/export/hasher.js';

const MiB = 1024 * 1024;

async function hashInChunks(data: Buffer, chunk: number): Promise<string> {
  const h = entryHash(data.length);
  for (let off = 0; off < data.length; off += chunk) await h.update(data.subarray(off, off + chunk));
  return h.digest();
}

describe('export entry hash (worker for large entries)', function () {
  this.timeout(120_000);

  it('gives the inline SHA-256 for small and large entries, odd chunk sizes, past the in-flight bound', async () => {
    const small = randomBytes(100_000);
    expect(await hashInChunks(small, 4096)).to.equal(createHash('sha256').update(small).digest('hex'));
    // 40 MiB: more than the worker's ring (16 MiB), so update() waits for room and the ring wraps.
    const large = randomBytes(40 * MiB);
    const want = createHash('sha256').update(large).digest('hex');
    expect(await hashInChunks(large, 1_000_003)).to.equal(want);
    const flipped = Buffer.from(large);
    flipped[flipped.length - 1]! ^= 0xff;
    expect(await hashInChunks(flipped, 4 * MiB)).to.not.equal(want);
  });

  it('hashes views of shared slots in place, mixed with copied updates, in order', async () => {
    const data = randomBytes(21 * MiB + 5);
    const h = entryHash(data.length);
    const slots: Promise<void>[] = [];
    let off = 0;
    for (let i = 0; off < data.length; i++) {
      const n = Math.min(data.length - off, i % 2 === 0 ? 4 * MiB : 1_000_003);
      if (i % 2 === 0) {
        // Not awaited: several pieces with the worker at once, as the export has them.
        const piece = Buffer.from(new SharedArrayBuffer(n));
        data.copy(piece, 0, off, off + n);
        slots.push(h.updateShared(piece));
      } else {
        await h.update(data.subarray(off, off + n));
      }
      off += n;
    }
    await Promise.all(slots);
    expect(await h.digest()).to.equal(createHash('sha256').update(data).digest('hex'));
    // The worker can only read shared memory: anything else is refused, not copied quietly.
    const other = entryHash(64 * MiB);
    const refused = await other.updateShared(Buffer.alloc(1)).then(() => null, (e: Error) => e);
    expect(refused?.message).to.match(/shared memory/);
    await other.digest();
  });

  it('keeps concurrent hashes apart', async () => {
    const a = randomBytes(12 * MiB);
    const b = randomBytes(9 * MiB);
    const [ha, hb] = await Promise.all([hashInChunks(a, 65_536), hashInChunks(b, 3 * MiB)]);
    expect(ha).to.equal(createHash('sha256').update(a).digest('hex'));
    expect(hb).to.equal(createHash('sha256').update(b).digest('hex'));
  });

  it('a process that used the worker exits on its own, whatever its flags (--input-type=module)', async () => {
    const script = `
      import { entryHash } from ${JSON.stringify(path.resolve('drivers/remotefs/export/hasher.ts'))};
      const h = entryHash(64 * 1024 * 1024);
      await h.update(Buffer.alloc(1024 * 1024, 1));
      await h.digest();
      console.log('done');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    // No timer here: a worker that kept the process alive fails this test by mocha's time-out.
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).to.equal(0);
    expect(out.trim()).to.equal('done');
  });
});
