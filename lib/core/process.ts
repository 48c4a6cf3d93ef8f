/**
 * The only module that starts processes (lint forbids importing execa elsewhere).
 *
 * - argument arrays only, never a shell;
 * - LC_ALL=C so that parsed output is stable;
 * - a timeout for every call; on timeout the whole process group is killed;
 * - every child runs in its own process group (`detached`) under `setpriv --pdeathsig KILL`, so
 *   if this process dies (even by SIGKILL) the kernel kills the child: no qemu-img keeps writing
 *   into a chain after its owner is gone;
 * - optional resource limits through prlimit (address space, CPU seconds) for commands that parse
 *   hostile images;
 * - errors carry the command, exit code, signal and stderr.
 */
import { execa, type ResultPromise } from 'execa';
import { IMAGE_CORRUPT_STDERR, NO_SPACE_STDERR, SHARE_GONE_STDERR, StorageError } from './errors.js';

export interface RunLimits {
  /** RLIMIT_AS in bytes. */
  addressSpaceBytes?: number;
  /** RLIMIT_CPU in seconds. */
  cpuSeconds?: number;
}

export interface RunOptions {
  /** Milliseconds; default 120 s. 0 disables (only for jobs with their own progress watchdog). */
  timeoutMs?: number;
  cwd?: string;
  input?: string | Buffer;
  limits?: RunLimits;
  /** Extra environment (LC_ALL=C is always set). */
  env?: Record<string, string>;
  /** Called with every chunk of stdout as it arrives (progress parsing). */
  onStdout?: (chunk: string) => void;
  signal?: AbortSignal;
  /** Return a result with a non-zero exit code instead of throwing. */
  allowFailure?: boolean;
  /** Return stdout as a Buffer. */
  binary?: boolean;
}

export interface RunResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  pid: number | undefined;
}

const DEFAULT_TIMEOUT_MS = 120_000;

export function formatCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/** The argv actually executed: wrappers for death signal and limits in front of the command. */
export function wrappedArgv(file: string, args: readonly string[], limits?: RunLimits): [string, string[]] {
  const argv: string[] = ['--pdeathsig', 'KILL', '--'];
  if (limits && (limits.addressSpaceBytes !== undefined || limits.cpuSeconds !== undefined)) {
    argv.push('prlimit');
    if (limits.addressSpaceBytes !== undefined) argv.push(`--as=${limits.addressSpaceBytes}`);
    if (limits.cpuSeconds !== undefined) argv.push(`--cpu=${limits.cpuSeconds}`);
    argv.push('--');
  }
  argv.push(file, ...args);
  return ['setpriv', argv];
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Run `file args...`; resolves with its output or throws PROCESS_FAILED / PROCESS_TIMEOUT / TOOL_MISSING. */
export async function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const command = formatCommand(file, args);
  const [wrapper, argv] = wrappedArgv(file, args, options.limits);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const child: ResultPromise = execa(wrapper, argv, {
    cwd: options.cwd,
    input: options.input,
    env: { ...options.env, LC_ALL: 'C', LANG: 'C' },
    extendEnv: true,
    detached: true,
    reject: false,
    stripFinalNewline: false,
    encoding: options.binary ? 'buffer' : 'utf8',
    cancelSignal: options.signal,
    forceKillAfterDelay: false,
  });
  let timedOut = false;
  const timer = timeoutMs > 0 ? setTimeout(() => { timedOut = true; killGroup(child.pid); }, timeoutMs) : undefined;
  const onAbort = () => killGroup(child.pid);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.onStdout) child.stdout?.on('data', (d: Buffer) => options.onStdout?.(d.toString('utf8')));
  try {
    const r = await child;
    const stdout = typeof r.stdout === 'string' ? r.stdout : Buffer.from(r.stdout as Uint8Array).toString('latin1');
    const stderr = String(r.stderr ?? '');
    const result: RunResult = { command, exitCode: r.exitCode ?? -1, stdout, stderr, pid: child.pid };
    const details = { command, exitCode: r.exitCode, signal: r.signal, stderr: stderr.trim().slice(0, 4000) };
    if (timedOut) throw new StorageError('PROCESS_TIMEOUT', `${command}: timed out after ${timeoutMs} ms`, { details });
    if (r.exitCode === 127 && /No such file or directory|not found/.test(stderr)) {
      throw new StorageError('TOOL_MISSING', `${file} is not installed (${stderr.trim()})`, { details });
    }
    if (r.failed && !options.allowFailure) {
      const why = r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`;
      // A full share is its own condition (the operator frees space; nothing is corrupt), and so
      // is a share that went away (the operator brings the brick or server back; retry then).
      // A corrupt image's EIO is the file's, not the share's: checked first.
      const code = r.signal ? 'PROCESS_FAILED' : IMAGE_CORRUPT_STDERR.test(stderr) ? 'IMAGE_CORRUPT' : NO_SPACE_STDERR.test(stderr) ? 'NO_SPACE' : SHARE_GONE_STDERR.test(stderr) ? 'SHARE_UNAVAILABLE' : 'PROCESS_FAILED';
      throw new StorageError(code, `${command}: ${why}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`, {
        details,
        cause: r.cause ?? undefined,
      });
    }
    return result;
  } finally {
    if (timer) clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** Like run() but returns stdout as a Buffer. */
export async function runBinary(file: string, args: readonly string[], options: RunOptions = {}): Promise<Buffer> {
  const r = await run(file, args, { ...options, binary: true });
  return Buffer.from(r.stdout, 'latin1');
}

/** True when `file` is on PATH (checked without a shell). */
export async function hasTool(file: string): Promise<boolean> {
  const r = await run('sh', ['-c', 'command -v "$1"', 'sh', file], { allowFailure: true, timeoutMs: 5000 });
  return r.exitCode === 0;
}
