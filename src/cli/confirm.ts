/**
 * A question before a destructive step: asked on a terminal; without one (a script, a pipe) the
 * step is refused unless --yes was given, since nobody is there to answer.
 */
import { createInterface } from 'node:readline/promises';
import { CliError } from './cli-error.js';

export async function confirm(question: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new CliError('CONFIRMATION_REQUIRED', `${question}: confirm with --yes (no terminal to ask on)`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question}; continue? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('CONFIRMATION_REQUIRED', `${question}: not confirmed, nothing done`);
  } finally {
    rl.close();
  }
}
