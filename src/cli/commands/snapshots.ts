import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { sizedRows, table, withAllocated } from '../render.js';
import { snapshotId, volumeId } from '../resolve.js';
import { type Output, print, watchOperation } from './output.js';
import { accepted, fields } from './volumes.js';

const COLUMNS = ['id', 'volume_id', 'status', 'name', 'size', 'created_at', 'os-extended-snapshot-attributes:progress'];

export function snapshotCommands(program: Command, client: () => ApiClient, out: () => Output): Command {
  const snapshot = program.command('snapshot').description('snapshots (named by id or exact name)');
  snapshot.command('list').description('list snapshots').option('--volume <volume>', 'of one volume (id or name)').action(async (o: { volume?: string }) => {
    const c = client();
    const { body } = await c.call<{ snapshots: Record<string, unknown>[] }>('GET', `/v3/snapshots/detail${o.volume ? `?volume_id=${encodeURIComponent(await volumeId(c, o.volume))}` : ''}`);
    print(out(), body, () => { const rows = sizedRows(body.snapshots); return table(rows, withAllocated(rows, COLUMNS)); });
  });
  snapshot.command('show <snapshot>').description('show a snapshot').action(async (ref: string) => {
    const c = client();
    const { body } = await c.call<{ snapshot: Record<string, unknown> }>('GET', `/v3/snapshots/${await snapshotId(c, ref)}`);
    print(out(), body, () => fields(body.snapshot));
  });
  snapshot.command('create <volume>').description('snapshot a volume').option('--name <name>').option('--force', 'even if in-use').option('--wait')
    .action(async (ref: string, o: { name?: string; force?: boolean; wait?: boolean }) => {
      const c = client();
      const r = await c.call<{ snapshot: Record<string, unknown> }>('POST', '/v3/snapshots', { snapshot: { volume_id: await volumeId(c, ref), name: o.name ?? null, force: o.force ?? false } });
      print(out(), r.body, () => `snapshot ${String(r.body.snapshot.id)} ${String(r.body.snapshot.status)} (operation ${r.headers.get('x-operation-id')})`);
      if (o.wait) await watchOperation(c, out(), r.headers.get('x-operation-id') ?? '');
    });
  snapshot.command('delete <snapshot>').description('delete a snapshot').option('--wait').action(async (ref: string, o: { wait?: boolean }) => {
    const c = client();
    const r = await c.call('DELETE', `/v3/snapshots/${await snapshotId(c, ref)}`);
    await accepted(c, out(), r.headers.get('x-operation-id'), o.wait);
  });
  return snapshot;
}
