/**
 * Checkpoints of instances (os-checkpoints): `checkpoint create <instance>`, `list`, `show <checkpoint>`,
 * `revert <checkpoint> [--paused] [--host H [--old-host-fenced]]`, `delete <checkpoint>` (an id or an exact name); `--wait` polls the checkpoint until its host is done
 * (creating / reverting → available or error; deleting → gone) and fails when it ends in error.
 */
import type { Command } from 'commander';
import { ApiError, type ApiClient } from '../client.js';
import { table } from '../render.js';
import { checkpointId } from '../resolve.js';
import { type Output, print } from './output.js';

const COLUMNS = ['id', 'instance_uuid', 'name', 'status', 'mode', 'memory_size', 'created_at'];
const TRANSITIONAL = new Set(['creating', 'reverting', 'deleting']);
const checkpointPath = (id: string) => `/v3/os-checkpoints/${encodeURIComponent(id)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Row = Record<string, unknown>;

/** The line redrawn on a terminal while the host works: status, a bar and the row's progress. */
export function checkpointLine(row: Row): string {
  const pct = Math.max(0, Math.min(100, Number.parseInt(String(row.progress ?? '0'), 10) || 0));
  const width = 20;
  const done = Math.round((pct * width) / 100);
  return `checkpoint ${String(row.name ?? row.id)} ${String(row.status)} [${'#'.repeat(done)}${'.'.repeat(width - done)}] ${pct}%`;
}

/**
 * Poll until the checkpoint leaves its transitional status (null: it is gone, as a delete ends).
 * On a terminal one line is redrawn, and erased at the end: the end state is printed once, by the caller.
 */
async function waitSettled(client: ApiClient, id: string, intervalMs = 500): Promise<Row | null> {
  const tty = process.stderr.isTTY === true;
  const clear = () => { if (tty) process.stderr.write('\r\x1b[K'); };
  for (;;) {
    let row: Row;
    try {
      row = (await client.call<{ checkpoint: Row }>('GET', checkpointPath(id))).body.checkpoint;
    } catch (err) {
      clear();
      if (err instanceof ApiError && err.code === 'CHECKPOINT_NOT_FOUND') return null;
      throw err;
    }
    if (!TRANSITIONAL.has(String(row.status))) {
      clear();
      if (row.status === 'error') throw new Error(`checkpoint ${id} ended in error: ${String(row.error ?? 'no reason recorded')}`);
      return row;
    }
    if (tty) process.stderr.write(`\r\x1b[K${checkpointLine(row)}`);
    await sleep(intervalMs);
  }
}

export function checkpointCommands(program: Command, client: () => ApiClient, out: () => Output): void {
  const cp = program.command('checkpoint').description('checkpoints of instances: memory + every managed volume, revert to any of them');
  cp.command('create <instance>').description('take a checkpoint of an instance (through the coordinator of its host)')
    .option('--name <name>').option('--description <text>')
    .option('--mode <mode>', 'consistent (guest paused while its memory is saved, default) or live')
    .option('--exclude <target...>', 'disk targets the product does not manage, left out explicitly')
    .option('--wait', 'wait until the host is done')
    .action(async (instance: string, o: { name?: string; description?: string; mode?: string; exclude?: string[]; wait?: boolean }) => {
      const { body } = await client().call<{ checkpoint: Row }>('POST', '/v3/os-checkpoints', {
        checkpoint: { instance_uuid: instance, ...(o.name ? { name: o.name } : {}), ...(o.description ? { description: o.description } : {}), ...(o.mode ? { mode: o.mode } : {}), ...(o.exclude ? { exclude: o.exclude } : {}) },
      });
      const row = o.wait ? await waitSettled(client(), String(body.checkpoint.id)) : body.checkpoint;
      print(out(), { checkpoint: row }, () => table([row ?? {}], COLUMNS));
    });
  cp.command('list').description('list checkpoints').option('--instance <uuid>').action(async (o: { instance?: string }) => {
    const { body } = await client().call<{ checkpoints: Row[] }>('GET', `/v3/os-checkpoints${o.instance ? `?instance_uuid=${encodeURIComponent(o.instance)}` : ''}`);
    print(out(), body, () => table(body.checkpoints, COLUMNS));
  });
  cp.command('show <checkpoint>').description('show a checkpoint with its volumes').action(async (ref: string) => {
    const id = await checkpointId(client(), ref);
    const { body } = await client().call<{ checkpoint: Row }>('GET', checkpointPath(id));
    print(out(), body, () => `${table([body.checkpoint], [...COLUMNS, 'definition_sha256'])}\n${table(body.checkpoint.volumes as Row[], ['volume_id', 'target', 'snapshot_point', 'snapshot_id'])}`);
  });
  cp.command('revert <checkpoint>').description('revert the instance to the checkpoint (later checkpoints are kept)')
    .option('--paused', 'leave the restored guest paused').option('--wait', 'wait until the host is done')
    .option('--host <compute-host>', 'restore on another registered compute host (admin); its current host is asked to release the instance first')
    .option('--old-host-fenced', 'with --host: the current host is down and fenced, restore even when it cannot be asked')
    .action(async (ref: string, o: { paused?: boolean; wait?: boolean; host?: string; oldHostFenced?: boolean }) => {
      const id = await checkpointId(client(), ref);
      const revert = { ...(o.paused ? { paused: true } : {}), ...(o.host ? { host: o.host } : {}), ...(o.oldHostFenced ? { old_host_fenced: true } : {}) };
      await client().call('POST', `${checkpointPath(id)}/action`, { revert });
      const row = o.wait ? await waitSettled(client(), id) : null;
      print(out(), { reverted: id, checkpoint: row }, () => (o.wait ? `reverted to ${id}` : `revert of ${id} started`));
    });
  cp.command('delete <checkpoint>').description('delete a checkpoint').option('--wait', 'wait until it is gone').action(async (ref: string, o: { wait?: boolean }) => {
    const id = await checkpointId(client(), ref);
    await client().call('DELETE', checkpointPath(id));
    if (o.wait) await waitSettled(client(), id);
    print(out(), { deleted: id }, () => (o.wait ? `deleted ${id}` : `delete of ${id} started`));
  });
}
