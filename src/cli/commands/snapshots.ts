import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { table } from '../render.js';
import { type Output, print, watchOperation } from './output.js';

const COLUMNS = ['id', 'volume_id', 'status', 'name', 'size', 'os-extended-snapshot-attributes:progress'];

export function snapshotCommands(program: Command, client: () => ApiClient, out: () => Output): void {
  const snapshot = program.command('snapshot').description('snapshots');
  snapshot.command('list').description('list snapshots').option('--volume <id>').action(async (o: { volume?: string }) => {
    const { body } = await client().call<{ snapshots: Record<string, unknown>[] }>('GET', `/v3/snapshots/detail${o.volume ? `?volume_id=${o.volume}` : ''}`);
    print(out(), body, () => table(body.snapshots, COLUMNS));
  });
  snapshot.command('show <id>').description('show a snapshot').action(async (id: string) => {
    const { body } = await client().call<{ snapshot: Record<string, unknown> }>('GET', `/v3/snapshots/${id}`);
    print(out(), body, () => table(Object.entries(body.snapshot).map(([k, v]) => ({ field: k, value: typeof v === 'object' ? JSON.stringify(v) : v })), ['field', 'value']));
  });
  snapshot.command('create <volume>').description('snapshot a volume').option('--name <name>').option('--force', 'even if in-use').option('--wait')
    .action(async (volume: string, o: { name?: string; force?: boolean; wait?: boolean }) => {
      const r = await client().call<{ snapshot: Record<string, unknown> }>('POST', '/v3/snapshots', { snapshot: { volume_id: volume, name: o.name ?? null, force: o.force ?? false } });
      print(out(), r.body, () => `snapshot ${String(r.body.snapshot.id)} ${String(r.body.snapshot.status)} (operation ${r.headers.get('x-operation-id')})`);
      if (o.wait) await watchOperation(client(), out(), r.headers.get('x-operation-id') ?? '');
    });
  snapshot.command('delete <id>').description('delete a snapshot').option('--wait').action(async (id: string, o: { wait?: boolean }) => {
    const r = await client().call('DELETE', `/v3/snapshots/${id}`);
    const opId = r.headers.get('x-operation-id');
    print(out(), { operation_id: opId }, () => `accepted (operation ${opId})`);
    if (o.wait && opId) await watchOperation(client(), out(), opId);
  });
}
