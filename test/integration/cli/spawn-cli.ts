/**
 * The CLI as a user runs it: a separate process (`node --import tsx src/cli/main.ts ...`) with
 * an environment made for the test only (no QCS_* or OS_* variable of the machine leaks in).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../fixtures/guest/paths.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(QCS|OS)_/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

export function runCli(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), ...args], {
      cwd: REPO_ROOT, env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

/** stdout of a successful --json run, parsed (a run that failed is reported with its stderr). */
export function jsonOf<T = Record<string, unknown>>(r: CliRun): T {
  if (r.code !== 0) throw new Error(`qcs exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Every JSON document of a successful --json run (--wait prints the answer, then the operation's end). */
export function jsonDocs(r: CliRun): Record<string, Record<string, unknown>>[] {
  if (r.code !== 0) throw new Error(`qcs exited ${r.code}: ${r.stderr}`);
  // Documents are pretty-printed: only a document's own first line starts with "{".
  return r.stdout.trim().split(/\n(?=\{)/).map((d) => JSON.parse(d) as Record<string, Record<string, unknown>>);
}

/**
 * The CLI on a terminal: run under util-linux `script`, which gives it a pseudo-terminal and
 * types `input` there (the terminal keeps it until the CLI reads). Output is the terminal's:
 * stdout and stderr together, with the echo of what was typed.
 */
export function runCliOnTerminal(args: string[], env: Record<string, string>, input: string, seen?: (terminal: string) => void): Promise<CliRun> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, '--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: REPO_ROOT, env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    // `seen`: the terminal's output so far, at each piece (a test waits for a line before acting).
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); seen?.(stdout); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}
