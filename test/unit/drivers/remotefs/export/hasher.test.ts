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
