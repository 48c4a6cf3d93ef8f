/** Crafting hostile images for tests: real qemu-img output, then byte patches. */
import { open, readFile, writeFile } from 'node:fs/promises';
import { run } from '../../../lib/core/process.js';

export async function qemuImgRaw(args: string[], cwd?: string): Promise<void> {
  await run('qemu-img', args, { cwd, timeoutMs: 30_000 });
}

export async function patch(file: string, offset: number, bytes: Buffer): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, offset);
  } finally {
    await fh.close();
  }
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

export function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}

/** Offset of the first header extension of `type` in a qcow2 file (searching the first cluster). */
export async function extensionOffset(file: string, type: number): Promise<number> {
  const head = (await readFile(file)).subarray(0, 65536);
  const version = head.readUInt32BE(4);
  let pos = version === 3 ? head.readUInt32BE(100) : 72;
  while (pos + 8 <= head.length) {
    const t = head.readUInt32BE(pos);
    const len = head.readUInt32BE(pos + 4);
    if (t === type) return pos;
    if (t === 0) break;
    pos += 8 + Math.ceil(len / 8) * 8;
  }
  throw new Error(`extension 0x${type.toString(16)} not found`);
}

export async function truncateTo(file: string, length: number): Promise<void> {
  await writeFile(file, (await readFile(file)).subarray(0, length));
}
