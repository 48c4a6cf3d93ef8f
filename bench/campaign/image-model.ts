/**
 * What a volume's guest view must read: a map of 64 KiB block -> byte pattern (absent: zeros).
 * The campaign keeps one per snapshot point and one for the active file, and checks every one of
 * them with qemu-io after each fault.
 */
import { qemuIo } from '../../lib/qemu/qemu-io.js';

export const BLOCK = 65536;
/** Blocks the workload writes into (16 MiB); everything above reads zeros and is not checked. */
export const DATA_BLOCKS = 256;

export type Image = ReadonlyMap<number, number>;

export function written(image: Image, start: number, count: number, pattern: number): Image {
  const next = new Map(image);
  for (let b = start; b < start + count; b++) next.set(b, pattern);
  return next;
}

/** The data area as runs of equal blocks: [first block, count, pattern], zeros included. */
export function runsOf(image: Image): [number, number, number][] {
  const runs: [number, number, number][] = [];
  let runStart = 0;
  for (let b = 1; b <= DATA_BLOCKS; b++) {
    const at = (x: number) => image.get(x) ?? 0;
    if (b === DATA_BLOCKS || at(b) !== at(runStart)) {
      runs.push([runStart, b - runStart, at(runStart)]);
      runStart = b;
    }
  }
  return runs;
}

/** One qemu-io read per run of equal blocks: the whole data area, zeros included. */
function readCommands(image: Image): string[] {
  return runsOf(image).map(([start, count, p]) => `read -P 0x${p.toString(16).padStart(2, '0')} ${start * BLOCK} ${count * BLOCK}`);
}

/** Throws (PROCESS_FAILED with qemu-io's words) unless `file`'s chain reads exactly `image`. */
export async function verifyImage(file: string, image: Image): Promise<void> {
  await qemuIo(file, 'qcow2', readCommands(image), { readOnly: true, timeoutMs: 120_000 });
}

export async function writeBlocks(file: string, start: number, count: number, pattern: number): Promise<void> {
  await qemuIo(file, 'qcow2', [`write -P 0x${pattern.toString(16).padStart(2, '0')} ${start * BLOCK} ${count * BLOCK}`], { timeoutMs: 120_000 });
}
