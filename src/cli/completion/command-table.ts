/**
 * The one source of the shell completion scripts: the program's own command tree, flattened into
 * levels ("_", "_ volume", "_ volume metadata"), each with its subcommands and options and their
 * descriptions. bash and zsh scripts are both printed from it, so neither ever offers a command
 * or option that does not exist.
 */
import type { Command } from 'commander';

export interface Word { word: string; description: string }

export interface Level {
  /** "_" for the program itself, then the subcommand names: "_ volume metadata". */
  path: string;
  children: Word[];
  options: Word[];
}

function optionWords(cmd: Command): Word[] {
  const words = cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined).map((word) => ({ word, description: o.description })));
  return [...words, { word: '--help', description: 'show help' }];
}

export function commandTable(program: Command): Level[] {
  const out: Level[] = [];
  const visit = (cmd: Command, path: string): void => {
    const subcommands = cmd.commands.filter((c) => c.name() !== 'help');
    out.push({ path, children: subcommands.map((c) => ({ word: c.name(), description: c.description() })), options: optionWords(cmd) });
    for (const c of subcommands) visit(c, `${path} ${c.name()}`);
  };
  visit(program, '_');
  return out;
}

/** A word for a single-quoted shell string (bash and zsh alike). */
export const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
