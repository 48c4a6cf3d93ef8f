/**
 * `export-instance` and `import-instance` (admin): an instance's archive streams between the
 * service and a file (or stdout / stdin), with a progress bar on stderr, as a volume's does.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ApiError, type ApiClient } from '../client.js';
import { progressBar } from '../progress-bar.js';
import { counting, fault } from './transfer.js';
import { type Output, print } from './output.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function instanceTransferCommands(program: Command, client: () => ApiClient, out: () => Output, stderr: (s: string) => void = (s) => process.stderr.write(s), tty = process.stderr.isTTY === true): void {
  program.command('export-instance <instance>').description('export a shut-off instance (uuid) with its volumes and checkpoints as a tar archive (to stdout, or -o FILE; admin)')
    .option('-o, --output <file>', 'write the archive here instead of stdout').option('--no-progress', 'no progress bar on stderr')
    .action(async (instance: string, o: { output?: string; progress: boolean }) => {
      if (!UUID.test(instance)) throw new ApiError(400, 'INVALID_INPUT', `instance ${JSON.stringify(instance)} is not a uuid`);
      const r = await client().raw('GET', `/v3/os-instances/${instance.toLowerCase()}/os-export`);
      if (r.status !== 200 || r.body === null) throw await fault(r);
      const total = Number(r.headers.get('content-length') ?? NaN);
      const bar = progressBar(stderr, Number.isFinite(total) ? total : null, { tty, label: 'exported' });
      let bytes = 0;
      const sink: Writable = o.output ? createWriteStream(o.output, { flags: 'wx' }) : process.stdout;
      try {
        await pipeline(Readable.fromWeb(r.body as never), counting((n) => { bytes = n; if (o.progress) bar.update(n); }), sink);
        if (Number.isFinite(total) && bytes !== total) throw new Error(`the export ended after ${bytes} of ${total} bytes: the archive is incomplete`);
      } catch (err) {
        if (o.progress) bar.cancel();
        throw err;
      }
      if (o.progress) bar.done(bytes);
    });
  program.command('import-instance <file>').description('import an instance archive (- : stdin): new volumes, checkpoint rows and files (admin)')
    .option('--share <address>').option('--no-progress', 'no progress bar on stderr')
    .action(async (file: string, o: { share?: string; progress: boolean }) => {
      const q = o.share ? `?share=${encodeURIComponent(o.share)}` : '';
      const total = file === '-' ? null : (await stat(file)).size;
      const bar = progressBar(stderr, total, { tty, label: 'imported', afterSent: 'the service checks and writes the instance' });
      let bytes = 0;
      const source = (file === '-' ? process.stdin : createReadStream(file)).pipe(counting((n) => { bytes = n; if (o.progress) bar.update(n); }));
      const r = await client().raw('POST', `/v3/os-instance-import${q}`, Readable.toWeb(source) as never, 'application/x-tar');
      if (r.status >= 400) {
        if (o.progress) bar.cancel();
        throw await fault(r);
      }
      if (o.progress) bar.done(bytes);
      const body = (await r.json()) as { instance_import: { instance_uuid: string; volumes: unknown[]; checkpoints: unknown[] } };
      const i = body.instance_import;
      print(out(), body, () => `instance ${i.instance_uuid} imported: ${i.volumes.length} volume(s), ${i.checkpoints.length} checkpoint(s)`);
    });
}
