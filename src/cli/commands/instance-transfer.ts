/**
 * `export-instance` and `import-instance` (admin): an instance's archive streams between the
 * service and a file (or stdout / stdin), with a progress bar on stderr, as a volume's does.
 */
import type { Command } from 'commander';
import { isUuid } from '../../../lib/core/volume-names.js';
import { ApiError, type ApiClient } from '../client.js';
import { saveArchive, sendArchive } from './transfer.js';
import { type Output, print } from './output.js';

export function instanceTransferCommands(program: Command, client: () => ApiClient, out: () => Output, stderr: (s: string) => void = (s) => process.stderr.write(s), tty = process.stderr.isTTY === true): void {
  program.command('export-instance <instance>').description('export a shut-off instance (uuid) with its volumes and checkpoints as a tar archive (to stdout, or -o FILE; admin)')
    .option('-o, --output <file>', 'write the archive here instead of stdout').option('--no-progress', 'no progress bar on stderr')
    .action(async (instance: string, o: { output?: string; progress: boolean }) => {
      if (!isUuid(instance.toLowerCase())) throw new ApiError(400, 'INVALID_INPUT', `instance ${JSON.stringify(instance)} is not a uuid`);
      await saveArchive(await client().raw('GET', `/v3/os-instances/${instance.toLowerCase()}/os-export`), o.output, o.progress, stderr, tty);
    });
  program.command('import-instance <file>').description('import an instance archive (- : stdin): new volumes, checkpoint rows and files (admin)')
    .option('--share <address>', "the default share: volumes --volume-share does not name, and the instance's checkpoints (the share hosts keep checkpoints on)")
    .option('--volume-share <id:share>', "put the archived volume <id> on <share> (repeat once per volume; the id is the archive's, the share a configured one)", (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--keep-ids', "keep the archive's instance, volume, snapshot and checkpoint ids (refused unless free; needed to restore a checkpoint's memory state)")
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (file: string, o: { share?: string; volumeShare: string[]; keepIds?: boolean; progress: boolean }) => {
      const params = new URLSearchParams();
      if (o.share) params.set('share', o.share);
      for (const m of o.volumeShare) params.append('volume_share', m);
      if (o.keepIds) params.set('keep_ids', 'true');
      const q = params.size > 0 ? `?${params.toString()}` : '';
      const r = await sendArchive(client(), `/v3/os-instance-import${q}`, file, { progress: o.progress, label: 'imported', afterSent: 'the service checks and writes the instance', stderr, tty });
      const body = (await r.json()) as { instance_import: { instance_uuid: string; volumes: unknown[]; checkpoints: unknown[] } };
      const i = body.instance_import;
      print(out(), body, () => `instance ${i.instance_uuid} imported: ${i.volumes.length} volume(s), ${i.checkpoints.length} checkpoint(s)`);
    });
}
