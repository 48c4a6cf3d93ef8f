/**
 * qemu-io, for tests and data-integrity checks: write byte patterns through the guest view of an
 * image and verify them. qemu-io reports a failed pattern check on stdout, and older releases
 * exited 0 on it, so the output is checked as well as the exit code.
 */
import path from 'node:path';
import { StorageError } from '../core/errors.js';
import { run } from '../core/process.js';
import { assertImageFormat, type ImageFormat } from './formats.js';
import { QEMU_IO, SHORT_TIMEOUT_MS } from './tool.js';

const FAILURE = /Pattern verification failed|(?:read|write|aio_read|aio_write|discard) failed|^qemu-io: /m;

export interface QemuIoOptions {
  /** Open read-only with --force-share (reads only; works on a file a guest holds). */
  readOnly?: boolean;
  timeoutMs?: number;
}

export async function qemuIo(file: string, format: ImageFormat, commands: readonly string[], options: QemuIoOptions = {}): Promise<string> {
  assertImageFormat(format);
  const abs = path.resolve(file);
  const args = ['-f', format, ...(options.readOnly ? ['-r', '-U'] : [])];
  for (const c of commands) args.push('-c', c);
  args.push(abs);
  const r = await run(QEMU_IO, args, {
    cwd: path.dirname(abs),
    allowFailure: true,
    timeoutMs: options.timeoutMs ?? SHORT_TIMEOUT_MS,
  });
  const out = r.stdout + r.stderr;
  if (r.exitCode !== 0 || FAILURE.test(out)) {
    throw new StorageError('PROCESS_FAILED', `${r.command}: ${out.trim().split('\n').slice(-3).join(' | ')}`, {
      details: { command: r.command, exitCode: r.exitCode, output: out.slice(0, 4000) },
    });
  }
  return r.stdout;
}

function patternCommand(op: 'write' | 'read', pattern: number, offset: number, length: number): string {
  if (!Number.isInteger(pattern) || pattern < 0 || pattern > 255) throw new RangeError(`pattern must be a byte: ${pattern}`);
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length <= 0) {
    throw new RangeError(`bad range ${offset}+${length}`);
  }
  return `${op} -P 0x${pattern.toString(16).padStart(2, '0')} ${offset} ${length}`;
}

export async function writePattern(file: string, format: ImageFormat, pattern: number, offset: number, length: number): Promise<void> {
  await qemuIo(file, format, [patternCommand('write', pattern, offset, length)]);
}

/** Throws PROCESS_FAILED unless every byte of the range reads as `pattern` through the chain. */
export async function verifyPattern(file: string, format: ImageFormat, pattern: number, offset: number, length: number): Promise<void> {
  await qemuIo(file, format, [patternCommand('read', pattern, offset, length)], { readOnly: true });
}
