/**
 * Admin commands to adopt files made elsewhere (Cinder's `cinder manage` / `manageable-list` /
 * `unmanage`): `volume manage`, `volume manageable`, `volume unmanage`.
 */
import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { table } from '../render.js';
import { volumeId } from '../resolve.js';
import { type Output, print, watchOperation } from './output.js';
import { keyValues } from './key-values.js';

interface Manageable {
  reference: { 'source-name': string };
  size: number;
  safe_to_manage: boolean;
  reason_not_safe: string | null;
  cinder_id: string | null;
  extra_info: { host: string };
}

const collect = (value: string, previous: string[]) => [...previous, value];

function metadataOf(pairs: string[]): Record<string, string> {
  return keyValues(pairs, (p) => new Error(`--metadata wants key=value, got ${JSON.stringify(p)}`));
}

export function manageCommands(volume: Command, client: () => ApiClient, out: () => Output): void {
  volume.command('manage <host> <source-name>')
    .description('adopt an existing file (and its chain) as a volume (admin); <host>: the share address, or <service>@<backend>#<share address>')
    .option('--name <name>').option('--description <text>').option('--bootable', 'mark it bootable')
    .option('--metadata <key=value>', 'metadata item (repeatable)', collect, [])
    .option('--wait', 'watch the operation until it ends')
    .action(async (host: string, sourceName: string, o: { name?: string; description?: string; bootable?: boolean; metadata: string[]; wait?: boolean }) => {
      const r = await client().call<{ volume: Record<string, unknown> }>('POST', '/v3/manageable_volumes', {
        volume: {
          host, ref: { 'source-name': sourceName }, name: o.name ?? null, description: o.description ?? null,
          bootable: o.bootable ?? false, metadata: metadataOf(o.metadata),
        },
      });
      const operationId = r.headers.get('x-operation-id');
      print(out(), r.body, () => `volume ${String(r.body.volume.id)} ${String(r.body.volume.status)} (operation ${operationId})`);
      if (o.wait && operationId) await watchOperation(client(), out(), operationId);
    });
  volume.command('manageable').description('list files on the shares that manage could adopt, and why not where it cannot (admin)')
    .option('--host <host>', 'one share (address or pool form)').action(async (o: { host?: string }) => {
      const q = o.host === undefined ? '' : `?host=${encodeURIComponent(o.host)}`;
      const { body } = await client().call<{ 'manageable-volumes': Manageable[] }>('GET', `/v3/manageable_volumes/detail${q}`);
      print(out(), body, () => table(body['manageable-volumes'].map((m) => ({
        'source-name': m.reference['source-name'], host: m.extra_info.host, size: m.size, safe: m.safe_to_manage,
        reason: m.reason_not_safe ?? '', cinder_id: m.cinder_id ?? '',
      })), ['source-name', 'host', 'size', 'safe', 'reason', 'cinder_id']));
    });
  volume.command('unmanage <volume>').description('forget a volume, leaving its files on the share (admin)').action(async (ref: string) => {
    const c = client();
    const id = await volumeId(c, ref);
    await c.call('POST', `/v3/volumes/${id}/action`, { 'os-unmanage': null });
    print(out(), { volume_id: id, unmanaged: true }, () => `volume ${id} unmanaged; its files stay on the share`);
  });
}
