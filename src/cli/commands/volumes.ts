import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { renderTree, table, type TreeSnapshot } from '../render.js';
import { type Output, print, watchOperation } from './output.js';

const COLUMNS = ['id', 'status', 'name', 'size', 'attach_status'];

export function volumeCommands(program: Command, client: () => ApiClient, out: () => Output): Command {
  const volume = program.command('volume').description('volumes');
  volume.command('list').description('list volumes').option('--all', 'all projects (admin)').action(async (o: { all?: boolean }) => {
    const { body } = await client().call<{ volumes: Record<string, unknown>[] }>('GET', `/v3/volumes/detail${o.all ? '?all_tenants=1' : ''}`);
    print(out(), body, () => table(body.volumes, COLUMNS));
  });
  volume.command('show <id>').description('show a volume').action(async (id: string) => {
    const { body } = await client().call<{ volume: Record<string, unknown> }>('GET', `/v3/volumes/${id}`);
    print(out(), body, () => table(Object.entries(body.volume).map(([k, v]) => ({ field: k, value: typeof v === 'object' ? JSON.stringify(v) : v })), ['field', 'value']));
  });
  volume.command('tree <id>').description("show a volume's snapshot tree").action(async (id: string) => {
    const { body } = await client().call<{ tree: { snapshots: TreeSnapshot[]; active_parent: string | null; active_file: string } }>('GET', `/v3/volumes/${id}/tree`);
    print(out(), body, () => `volume ${id}\n${renderTree(body.tree.snapshots, body.tree.active_parent, body.tree.active_file)}`);
  });
  volume.command('create').description('create a volume').requiredOption('--size <gib>', 'size in GiB', Number).option('--name <name>')
    .option('--wait', 'watch the operation until it ends').action(async (o: { size: number; name?: string; wait?: boolean }) => {
      const r = await client().call<{ volume: Record<string, unknown> }>('POST', '/v3/volumes', { volume: { size: o.size, name: o.name ?? null } });
      print(out(), r.body, () => `volume ${String(r.body.volume.id)} ${String(r.body.volume.status)} (operation ${r.headers.get('x-operation-id')})`);
      if (o.wait) await watchOperation(client(), out(), r.headers.get('x-operation-id') ?? '');
    });
  volume.command('delete <id>').description('delete a volume').option('--cascade', 'delete its snapshots too').option('--wait').action(async (id: string, o: { cascade?: boolean; wait?: boolean }) => {
    const r = await client().call('DELETE', `/v3/volumes/${id}${o.cascade ? '?cascade=true' : ''}`);
    await accepted(client(), out(), r.headers.get('x-operation-id'), o.wait);
  });
  volume.command('extend <id> <size>').description('grow a volume to <size> GiB').option('--wait').action(async (id: string, size: string, o: { wait?: boolean }) => {
    const r = await client().call('POST', `/v3/volumes/${id}/action`, { 'os-extend': { new_size: Number(size) } });
    await accepted(client(), out(), r.headers.get('x-operation-id'), o.wait);
  });
  volume.command('revert <id> <snapshot>').description('revert to a snapshot (latest only, unless --any)').option('--any', 'any snapshot of the tree (extension)')
    .option('--wait').action(async (id: string, snap: string, o: { any?: boolean; wait?: boolean }) => {
      const name = o.any ? 'os-revert_to_snapshot' : 'revert';
      const r = await client().call('POST', `/v3/volumes/${id}/action`, { [name]: { snapshot_id: snap } });
      await accepted(client(), out(), r.headers.get('x-operation-id'), o.wait);
    });
  return volume;
}

async function accepted(client: ApiClient, out: Output, operationId: string | null, wait?: boolean): Promise<void> {
  print(out, { operation_id: operationId }, () => `accepted (operation ${operationId})`);
  if (wait && operationId) await watchOperation(client, out, operationId);
}
