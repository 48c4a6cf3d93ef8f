import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { CliError } from '../cli-error.js';
import { renderTree, sizedRows, table, withAllocated, type TreeView } from '../render.js';
import { snapshotId, volumeId } from '../resolve.js';
import { type Output, print, watchOperation } from './output.js';

const COLUMNS = ['id', 'status', 'name', 'size', 'attach_status'];

/**
 * A size in GiB as typed: decimal digits only. Number() alone took `0x10` as 16 GiB, and `1e400`
 * went to the service as null.
 */
export function wholeGiB(value: string): number {
  if (!/^\d{1,15}$/.test(value.trim())) throw new CliError('INVALID_ARGUMENT', `a size is a whole number of GiB in decimal digits, got ${JSON.stringify(value)}`);
  return Number(value.trim());
}

/** A field/value table of one resource, its size with the unit. */
export function fields(item: Record<string, unknown>): string {
  const [row] = sizedRows([item]);
  return table(Object.entries(row ?? {}).map(([k, v]) => ({ field: k, value: typeof v === 'object' && v !== null ? JSON.stringify(v) : v })), ['field', 'value']);
}

export function volumeCommands(program: Command, client: () => ApiClient, out: () => Output): Command {
  const volume = program.command('volume').description('volumes (a volume or snapshot is named by its id or its exact name)');
  volume.command('list').description('list volumes').option('--all', 'all projects (admin)').action(async (o: { all?: boolean }) => {
    const { body } = await client().call<{ volumes: Record<string, unknown>[] }>('GET', `/v3/volumes/detail${o.all ? '?all_tenants=1' : ''}`);
    print(out(), body, () => { const rows = sizedRows(body.volumes); return table(rows, withAllocated(rows, COLUMNS)); });
  });
  volume.command('show <volume>').description('show a volume').action(async (ref: string) => {
    const c = client();
    const { body } = await c.call<{ volume: Record<string, unknown> }>('GET', `/v3/volumes/${await volumeId(c, ref)}`);
    print(out(), body, () => fields(body.volume));
  });
  volume.command('tree <volume>').description("show a volume's snapshot tree (sizes, dates, hidden snapshots, the active file)").action(async (ref: string) => {
    const c = client();
    const id = await volumeId(c, ref);
    const { body } = await c.call<{ tree: TreeView }>('GET', `/v3/volumes/${id}/tree`);
    print(out(), body, () => `volume ${id}\n${renderTree(body.tree)}`);
  });
  volume.command('create').description('create a volume: empty (--size), from a snapshot (--from-snapshot) or see `volume clone`')
    .option('--size <gib>', 'size in GiB (from a snapshot: its size when absent)', wholeGiB).option('--name <name>')
    .option('--from-snapshot <snapshot>', 'a snapshot (id or name) to start from')
    .option('--wait', 'watch the operation until it ends').action(async (o: { size?: number; name?: string; fromSnapshot?: string; wait?: boolean }) => {
      const c = client();
      const snapshot = o.fromSnapshot === undefined ? null : await snapshotId(c, o.fromSnapshot);
      let size = o.size;
      if (size === undefined && snapshot !== null) size = (await c.call<{ snapshot: { size: number } }>('GET', `/v3/snapshots/${snapshot}`)).body.snapshot.size;
      if (size === undefined) throw new CliError('INVALID_ARGUMENT', '--size is required (unless --from-snapshot)');
      await created(c, out(), await c.call('POST', '/v3/volumes', { volume: { size, name: o.name ?? null, ...(snapshot ? { snapshot_id: snapshot } : {}) } }), o.wait);
    });
  volume.command('clone <source>').description('create a volume as a copy of another (its current content)').option('--name <name>')
    .option('--size <gib>', 'size in GiB (the source\'s when absent)', wholeGiB).option('--wait', 'watch the operation until it ends')
    .action(async (ref: string, o: { name?: string; size?: number; wait?: boolean }) => {
      const c = client();
      const source = await volumeId(c, ref);
      const size = o.size ?? (await c.call<{ volume: { size: number } }>('GET', `/v3/volumes/${source}`)).body.volume.size;
      await created(c, out(), await c.call('POST', '/v3/volumes', { volume: { size, name: o.name ?? null, source_volid: source } }), o.wait);
    });
  volume.command('delete <volume>').description('delete a volume').option('--cascade', 'delete its snapshots too').option('--wait').action(async (ref: string, o: { cascade?: boolean; wait?: boolean }) => {
    const c = client();
    const r = await c.call('DELETE', `/v3/volumes/${await volumeId(c, ref)}${o.cascade ? '?cascade=true' : ''}`);
    await accepted(c, out(), r.headers.get('x-operation-id'), o.wait);
  });
  volume.command('extend <volume> <size>').description('grow a volume to <size> GiB').option('--wait').action(async (ref: string, size: string, o: { wait?: boolean }) => {
    const c = client();
    const r = await c.call('POST', `/v3/volumes/${await volumeId(c, ref)}/action`, { 'os-extend': { new_size: wholeGiB(size) } });
    await accepted(c, out(), r.headers.get('x-operation-id'), o.wait);
  });
  volume.command('revert <volume> <snapshot>').description('revert to a snapshot (latest only, unless --any); asks before shrinking the volume')
    .option('--any', 'any snapshot of the tree (extension)').option('-y, --yes', 'no question before a revert that shrinks the volume')
    .option('--wait').action(async (ref: string, snapRef: string, o: { any?: boolean; yes?: boolean; wait?: boolean }) => {
      const c = client();
      const id = await volumeId(c, ref);
      const snap = await snapshotId(c, snapRef, id);
      const [{ body: v }, { body: s }] = await Promise.all([
        c.call<{ volume: { size: number } }>('GET', `/v3/volumes/${id}`), c.call<{ snapshot: { size: number } }>('GET', `/v3/snapshots/${snap}`),
      ]);
      // The volume takes the snapshot's size: what was written past it (after an extend) is lost.
      // (confirm is imported here only: most commands never ask.)
      if (s.snapshot.size < v.volume.size) await (await import('../confirm.js')).confirm(`reverting volume ${id} to snapshot ${snap} shrinks it from ${v.volume.size} GiB to ${s.snapshot.size} GiB`, o.yes);
      const name = o.any ? 'os-revert_to_snapshot' : 'revert';
      const r = await c.call('POST', `/v3/volumes/${id}/action`, { [name]: { snapshot_id: snap } });
      await accepted(c, out(), r.headers.get('x-operation-id'), o.wait);
    });
  return volume;
}

async function created(client: ApiClient, out: Output, r: { body: Record<string, unknown>; headers: Headers }, wait?: boolean): Promise<void> {
  const v = r.body.volume as Record<string, unknown>;
  print(out, r.body, () => `volume ${String(v.id)} ${String(v.status)} (operation ${r.headers.get('x-operation-id')})`);
  if (wait) await watchOperation(client, out, r.headers.get('x-operation-id') ?? '');
}

export async function accepted(client: ApiClient, out: Output, operationId: string | null, wait?: boolean): Promise<void> {
  print(out, { operation_id: operationId }, () => `accepted (operation ${operationId})`);
  if (wait && operationId) await watchOperation(client, out, operationId);
}
