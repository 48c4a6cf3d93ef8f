/**
 * Everyday admin commands Cinder users expect: `volume rename`, `volume metadata set/unset`,
 * `volume reset-state`, `volume force-delete` (and the snapshot forms of the last two).
 */
import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { CliError } from '../cli-error.js';
import { snapshotId, volumeId } from '../resolve.js';
import { type Output, print } from './output.js';
import { accepted, fields } from './volumes.js';
import { keyValues } from './key-values.js';

function pairs(items: string[]): Record<string, string> {
  return keyValues(items, (p) => new CliError('INVALID_ARGUMENT', `metadata wants key=value, got ${JSON.stringify(p)}`));
}

type Show = { volume: Record<string, unknown> };

export function adminCommands(volume: Command, snapshot: Command, client: () => ApiClient, out: () => Output): void {
  volume.command('rename <volume> <new-name>').description('rename a volume').action(async (ref: string, name: string) => {
    const c = client();
    const { body } = await c.call<Show>('PUT', `/v3/volumes/${await volumeId(c, ref)}`, { volume: { name } });
    print(out(), body, () => fields(body.volume));
  });
  const metadata = volume.command('metadata').description("a volume's metadata (key=value items)");
  // The update route replaces the whole set: read, change, write back.
  const rewrite = async (ref: string, change: (m: Record<string, string>) => Record<string, string>) => {
    const c = client();
    const id = await volumeId(c, ref);
    const { body: current } = await c.call<{ volume: { metadata: Record<string, string> } }>('GET', `/v3/volumes/${id}`);
    const { body } = await c.call<Show>('PUT', `/v3/volumes/${id}`, { volume: { metadata: change({ ...current.volume.metadata }) } });
    print(out(), { metadata: body.volume.metadata }, () => Object.entries(body.volume.metadata as Record<string, string>).map(([k, v]) => `${k}=${v}`).join('\n') || '(no metadata)');
  };
  metadata.command('set <volume> <key=value...>').description('add or change items').action(async (ref: string, items: string[]) => {
    const set = pairs(items);
    await rewrite(ref, (m) => ({ ...m, ...set }));
  });
  metadata.command('unset <volume> <key...>').description('remove items (a key that is absent is an error)').action(async (ref: string, keys: string[]) => {
    await rewrite(ref, (m) => {
      const missing = keys.filter((k) => !(k in m));
      if (missing.length > 0) throw new CliError('INVALID_ARGUMENT', `no metadata key ${missing.map((k) => JSON.stringify(k)).join(', ')} on this volume`);
      for (const k of keys) delete m[k];
      return m;
    });
  });
  volume.command('reset-state <volume>').description('set the recorded status without touching files (admin)')
    .option('--state <status>', 'status (available, error, ...)').option('--attach-status <status>', 'attached or detached')
    .action(async (ref: string, o: { state?: string; attachStatus?: string }) => {
      if (o.state === undefined && o.attachStatus === undefined) throw new CliError('INVALID_ARGUMENT', 'give --state and/or --attach-status');
      const c = client();
      const id = await volumeId(c, ref);
      await c.call('POST', `/v3/volumes/${id}/action`, { 'os-reset_status': { ...(o.state ? { status: o.state } : {}), ...(o.attachStatus ? { attach_status: o.attachStatus } : {}) } });
      const { body } = await c.call<Show>('GET', `/v3/volumes/${id}`);
      print(out(), body, () => `volume ${id} ${String(body.volume.status)} ${String(body.volume.attach_status)}`);
    });
  volume.command('force-delete <volume>').description('delete a volume whatever its status (admin)').option('--wait').action(async (ref: string, o: { wait?: boolean }) => {
    const c = client();
    const r = await c.call('POST', `/v3/volumes/${await volumeId(c, ref)}/action`, { 'os-force_delete': {} });
    await accepted(c, out(), r.headers.get('x-operation-id'), o.wait);
  });
  snapshot.command('reset-state <snapshot>').description('set the recorded status of a snapshot (admin)').requiredOption('--state <status>', 'status (available, error, ...)')
    .action(async (ref: string, o: { state: string }) => {
      const c = client();
      const id = await snapshotId(c, ref);
      await c.call('POST', `/v3/snapshots/${id}/action`, { 'os-reset_status': { status: o.state } });
      const { body } = await c.call<{ snapshot: Record<string, unknown> }>('GET', `/v3/snapshots/${id}`);
      print(out(), body, () => `snapshot ${id} ${String(body.snapshot.status)}`);
    });
  snapshot.command('force-delete <snapshot>').description('delete a snapshot whatever its status (admin)').option('--wait').action(async (ref: string, o: { wait?: boolean }) => {
    const c = client();
    const r = await c.call('POST', `/v3/snapshots/${await snapshotId(c, ref)}/action`, { 'os-force_delete': {} });
    await accepted(c, out(), r.headers.get('x-operation-id'), o.wait);
  });
}
