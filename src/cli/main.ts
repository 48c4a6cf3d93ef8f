#!/usr/bin/env node
/**
 * qcowshare: `serve` runs the storage service; the other commands are an admin client of its API
 * (--url, --token, or noauth --user/--project), with --json output.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ApiClient, ApiError } from './client.js';
import { CliError } from './cli-error.js';
import { DEFAULT_URL, resolveConnection, serviceRoot, type ConnectionFlags } from './environment.js';
import { keystoneLogin } from './keystone-login.js';
import { adminCommands } from './commands/admin.js';
import { manageCommands } from './commands/manage.js';
import { checkpointCommands } from './commands/checkpoints.js';
import { hostCommands } from './commands/hosts.js';
import { checkCommands } from './commands/check.js';
import { operationCommands } from './commands/operations.js';
import { print, type Output } from './commands/output.js';
import { snapshotCommands } from './commands/snapshots.js';
import { transferCommands } from './commands/transfer.js';
import { instanceTransferCommands } from './commands/instance-transfer.js';
import { volumeCommands } from './commands/volumes.js';

export function buildProgram(write: (text: string) => void = (t) => process.stdout.write(`${t}\n`), env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('qcowshare')
    .description('qcow2 volumes on shared file systems: storage service and admin CLI')
    .option('--url <url>', `storage service URL (env: QCS_URL, OS_VOLUME_API_URL, OS_ENDPOINT; default ${DEFAULT_URL})`)
    .option('--token <token>', 'X-Auth-Token, a Keystone token or a static token in tokens mode (env: QCS_TOKEN, OS_AUTH_TOKEN, OS_TOKEN; or an openrc: OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME logs in to Keystone)')
    .option('--user <id>', 'noauth user id (env: QCS_USER, OS_USER_ID; default admin)')
    .option('--project <id>', 'noauth project id (env: QCS_PROJECT, OS_PROJECT_ID; default admin)')
    .option('--json', 'JSON output (errors too, on stderr)')
    .showHelpAfterError();
  const opts = () => program.opts<ConnectionFlags & { json?: boolean }>();
  // A Keystone password login (openrc) happens once per run, at the first request.
  let session: Promise<{ token: string; url: string }> | undefined;
  const client = () => {
    const c = resolveConnection(opts(), env);
    const login = c.login;
    if (login === undefined) return new ApiClient(c);
    session ??= keystoneLogin(login).then((s) => {
      if (c.urlGiven) return { token: s.token, url: c.url };
      if (s.endpoint === null) {
        throw new CliError('INVALID_ARGUMENT', `Keystone's catalog (${login.authUrl}) has no block-storage endpoint on interface ${login.interface}${login.region ? ` in region ${login.region}` : ''}: set --url, QCS_URL or OS_VOLUME_API_URL`);
      }
      return { token: s.token, url: serviceRoot(s.endpoint) };
    });
    const ready = session;
    return new ApiClient({ ...c, session: () => ready });
  };
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
  instanceTransferCommands(program, client, out);
  const snapshot = snapshotCommands(program, client, out);
  adminCommands(volume, snapshot, client, out);
  operationCommands(program, client, out);
  hostCommands(program, client, out);
  checkpointCommands(program, client, out);
  checkCommands(program, client, out);
  program.command('completion <shell>').description('print a shell completion script (bash or zsh): source <(qcs completion bash)')
    .action(async (shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') throw new CliError('INVALID_ARGUMENT', `completion for ${JSON.stringify(shell)} is not available (bash and zsh are)`);
      // Loaded only here: no other command pays for the generators.
      const table = (await import('./completion/command-table.js')).commandTable(program);
      const names = ['qcs', 'qcowshare'];
      write(shell === 'bash' ? (await import('./completion/bash.js')).bashCompletion(table, names) : (await import('./completion/zsh.js')).zshCompletion(table, names));
    });
  return program;
}

/** An error as the user sees it: one line, or with --json one object { error: { code, message, status } }. */
export function describeError(err: unknown, json: boolean): { text: string; exitCode: number } {
  const e = err instanceof ApiError ? { code: err.code, message: err.message, status: err.status as number | null, exitCode: 1 }
    : err instanceof CliError ? { code: err.code, message: err.message, status: null, exitCode: err.exitCode, ...(err.details ? { details: err.details } : {}) }
      : { code: 'CLI_ERROR', message: (err as Error).message, status: null, exitCode: 1 };
  const { exitCode, ...body } = e;
  if (json) return { text: JSON.stringify({ error: body }), exitCode };
  return { text: e.status === null ? `error ${e.code}: ${e.message}` : `error ${e.status} ${e.code}: ${e.message}`, exitCode };
}

/**
 * Usage errors (an unknown option, a missing argument) end like the others: exit 2, and with
 * --json as a JSON object instead of commander's text. --help still exits 0.
 */
function usageErrorsThrown(cmd: Command, json: boolean): void {
  // writeErr also carries the help shown after an error (showHelpAfterError): JSON callers get the object alone.
  cmd.exitOverride().configureOutput(json ? { outputError: () => undefined, writeErr: () => undefined } : {});
  for (const c of cmd.commands) usageErrorsThrown(c, json);
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  // Known before parsing: a usage error can come before commander has read --json.
  const json = argv.includes('--json');
  usageErrorsThrown(program, json);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return;
      // commander.help: no command given (the help was the answer; its message is a placeholder).
      const message = err.code === 'commander.help' ? 'a command is required (see --help)' : err.message.replace(/^error: /, '');
      if (json) process.stderr.write(`${describeError(new CliError('USAGE', message), true).text}\n`);
      process.exitCode = 2;
      return;
    }
    const { text, exitCode } = describeError(err, json || (program.opts<{ json?: boolean }>().json ?? false));
    process.stderr.write(`${text}\n`);
    process.exitCode = exitCode;
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
