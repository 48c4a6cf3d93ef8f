import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { table } from '../render.js';
import { type Output, print, watchOperation } from './output.js';

export function operationCommands(program: Command, client: () => ApiClient, out: () => Output): void {
  const operation = program.command('operation').description('asynchronous operations');
  operation.command('list').description('list operations').option('--state <state>').action(async (o: { state?: string }) => {
    const { body } = await client().call<{ operations: Record<string, unknown>[] }>('GET', `/v3/operations${o.state ? `?state=${o.state}` : ''}`);
    print(out(), body, () => table(body.operations, ['id', 'kind', 'volume_id', 'state', 'progress', 'started_at', 'error']));
  });
  operation.command('watch <id>').description('follow an operation with a progress bar until it ends').action(async (id: string) => {
    const op = await watchOperation(client(), out(), id);
    if (op.state !== 'succeeded') process.exitCode = 1;
  });
}
