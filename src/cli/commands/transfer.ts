/**
 * `volume export` and `volume import`: the archive streams between the service and a file (or
 * stdout / stdin), with a progress bar on stderr.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ApiError, type ApiClient } from '../client.js';
import { CliError } from '../cli-error.js';
import { progressBar } from '../progress-bar.js';
import { snapshotId, volumeId } from '../resolve.js';
import { type Output, print } from './output.js';

export function counting(onBytes: (n: number) => void): Transform {
  let total = 0;
  return new Transform({ transform(chunk: Buffer, _e, cb) { total += chunk.length; onBytes(total); cb(null, chunk); } });
}

export async function fault(r: Response): Promise<ApiError> {
  const parsed = (await r.json().catch(() => ({}))) as Record<string, { message?: string; error_code?: string }>;
  const f = Object.values(parsed)[0];
  return new ApiError(r.status, f?.error_code ?? `HTTP_${r.status}`, f?.message ?? `HTTP ${r.status}`);
}

/** The archive an export answered, streamed to `output` (or stdout) with the bar; a short stream is an error. */
export async function saveArchive(r: Response, output: string | undefined, progress: boolean, stderr: (s: string) => void, tty: boolean): Promise<void> {
  if (r.status !== 200 || r.body === null) throw await fault(r);
  const total = Number(r.headers.get('content-length') ?? NaN);
  const bar = progressBar(stderr, Number.isFinite(total) ? total : null, { tty, label: 'exported' });
  let bytes = 0;
  const sink: Writable = output ? createWriteStream(output, { flags: 'wx' }) : process.stdout;
  try {
    await pipeline(Readable.fromWeb(r.body as never), counting((n) => { bytes = n; if (progress) bar.update(n); }), sink);
    if (Number.isFinite(total) && bytes !== total) throw new Error(`the export ended after ${bytes} of ${total} bytes: the archive is incomplete`);
  } catch (err) {
    if (progress) bar.cancel();
    throw err;
  }
  if (progress) bar.done(bytes);
}

/** An archive file (- : stdin) posted to `url` with the bar; a refusal is thrown as the service's error. */
export async function sendArchive(c: ApiClient, url: string, file: string, bar: { progress: boolean; label: string; afterSent: string; stderr: (s: string) => void; tty: boolean }): Promise<Response> {
  const st = file === '-' ? null : await stat(file);
  // A directory opens but fails at the first read, an unhandled stream error (a stack trace).
  if (st?.isDirectory()) throw new CliError('INVALID_ARGUMENT', `${file} is a directory, not an archive`);
  const total = st?.isFile() ? st.size : null;
  const drawn = progressBar(bar.stderr, total, { tty: bar.tty, label: bar.label, afterSent: bar.afterSent });
  let bytes = 0;
  const source = (file === '-' ? process.stdin : createReadStream(file)).pipe(counting((n) => { bytes = n; if (bar.progress) drawn.update(n); }));
  const r = await c.raw('POST', url, Readable.toWeb(source) as never, 'application/x-tar');
  if (r.status >= 400) {
    if (bar.progress) drawn.cancel();
    throw await fault(r);
  }
  if (bar.progress) drawn.done(bytes);
  return r;
}

export function transferCommands(volume: Command, client: () => ApiClient, out: () => Output, stderr: (s: string) => void = (s) => process.stderr.write(s), tty = process.stderr.isTTY === true): void {
  volume.command('export <volume>').description('export a volume with its snapshot tree as a tar archive (to stdout, or -o FILE)')
    .option('-o, --output <file>', 'write the archive here instead of stdout').option('--since <snapshot>', 'incremental: only what changed since this snapshot')
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (ref: string, o: { output?: string; since?: string; progress: boolean }) => {
      const c = client();
      const id = await volumeId(c, ref);
      const since = o.since === undefined ? undefined : await snapshotId(c, o.since, id);
      await saveArchive(await c.raw('GET', `/v3/volumes/${id}/os-export${since ? `?since=${encodeURIComponent(since)}` : ''}`), o.output, o.progress, stderr, tty);
    });
  volume.command('import <file>').description('import a volume with its snapshot tree from a tar archive (- : stdin)')
    .option('--keep-ids', "keep the archive's volume and snapshot ids (refused unless free)").option('--name <name>').option('--share <address>')
    .option('--onto <volume>', 'an incremental archive (export --since): onto this earlier import of the same source')
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (file: string, o: { keepIds?: boolean; name?: string; share?: string; onto?: string; progress: boolean }) => {
      if (o.onto !== undefined && (o.keepIds || o.name || o.share)) throw new ApiError(400, 'INVALID_INPUT', '--onto imports into an existing volume: --keep-ids, --name and --share do not apply');
      const q = new URLSearchParams();
      if (o.keepIds) q.set('keep_ids', 'true');
      if (o.name) q.set('name', o.name);
      if (o.share) q.set('share', o.share);
      // The volume to import onto, by id or name, found before any byte is sent.
      const onto = o.onto === undefined ? undefined : await volumeId(client(), o.onto);
      const url = onto !== undefined ? `/v3/volumes/${encodeURIComponent(onto)}/os-import` : `/v3/os-volume-import${q.size > 0 ? `?${q.toString()}` : ''}`;
      const r = await sendArchive(client(), url, file, { progress: o.progress, label: onto === undefined ? 'imported' : 'imported (incremental)', afterSent: 'the service checks and writes the volume', stderr, tty });
      const body = (await r.json()) as { volume: Record<string, unknown> };
      print(out(), body, () => `volume ${String(body.volume.id)} ${String(body.volume.status)} ${o.onto !== undefined ? 'updated from the incremental archive' : 'imported'}`);
    });
}
