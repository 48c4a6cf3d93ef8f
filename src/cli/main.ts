#!/usr/bin/env node
/**
 * qcowshare: `serve` runs the storage service; the other commands are an admin client of its API
 * (--url, --token, or noauth --user/--project), with --json output.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ApiClient, ApiError } from './client.js';
import { manageCommands } from './commands/manage.js';
import { checkpointCommands } from './commands/checkpoints.js';
import { hostCommands } from './commands/hosts.js';
import { checkCommands } from './commands/check.js';
import { operationCommands } from './commands/operations.js';
import { print, type Output } from './commands/output.js';
import { snapshotCommands } from './commands/snapshots.js';
import { transferCommands } from './commands/transfer.js';
import { volumeCommands } from './commands/volumes.js';

export function buildProgram(write: (text: string) => void = (t) => process.stdout.write(`${t}\n`)): Command {
  const program = new Command('qcowshare')
    .description('qcow2 volumes on shared file systems: storage service and admin CLI')
    .option('--url <url>', 'storage service URL', 'http://127.0.0.1:8776')
    .option('--token <token>', 'X-Auth-Token (a Keystone token, or a static token in tokens mode)')
    .option('--user <id>', 'noauth user id', 'admin')
    .option('--project <id>', 'noauth project id', 'admin')
    .option('--json', 'JSON output')
    .showHelpAfterError();
  const opts = () => program.opts<{ url: string; token?: string; user: string; project: string; json?: boolean }>();
  const client = () => new ApiClient(opts());
  const out = (): Output => ({ json: opts().json ?? false, write });
  program.command('serve').description('run the storage service (config: --config or QCOWSHARE_CONFIG)')
    // Loaded only when serving: the service (express, sequelize, drivers) takes most of a second
    // to import, which every admin command would otherwise pay before its first byte.
    .option('--config <file>', 'configuration file').action(async (o: { config?: string }) => { await (await import('./serve.js')).serve(o); });
  const db = program.command('db').description('the database schema (upgrades: docs/operations/upgrades.md)');
  db.command('migrate').description('apply pending schema migrations (serve also applies them at start)')
    .option('--config <file>', 'configuration file').action(async (o: { config?: string }) => {
      const r = await (await import('./db.js')).dbMigrate(o.config);
      print(out(), r, () => (r.applied.length === 0 ? 'schema up to date: nothing to migrate' : `applied: ${r.applied.join(', ')}`));
    });
  db.command('status').description('list pending schema migrations (applies none)')
    .option('--config <file>', 'configuration file').action(async (o: { config?: string }) => {
      const r = await (await import('./db.js')).dbStatus(o.config);
      print(out(), r, () => (r.pending.length === 0 ? 'schema up to date' : `pending: ${r.pending.join(', ')}`));
    });
  const volume = volumeCommands(program, client, out);
  manageCommands(volume, client, out);
  transferCommands(volume, client, out);
  snapshotCommands(program, client, out);
  operationCommands(program, client, out);
  hostCommands(program, client, out);
  checkpointCommands(program, client, out);
  checkCommands(program, client, out);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const msg = err instanceof ApiError ? `error ${err.status} ${err.code}: ${err.message}` : (err as Error).message;
    process.stderr.write(`${msg}\n`);
    process.exitCode = 1;
  }
}

/** Run as a program (also through a bin symlink such as node_modules/.bin/qcs), not when imported. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) void main(process.argv);
