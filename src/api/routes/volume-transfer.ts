/**
 * Export and import of a volume with its snapshot tree (issue 15): the archive travels as the
 * response body (GET, Content-Length known up front) or as the request body (POST, streamed:
 * application/x-tar, exempt from the JSON body rule and its size limit, see isArchiveUpload).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StorageError } from '../../../lib/core/errors.js';
import { parseByteSize } from '../../../lib/core/http-server.js';
import { acceptUpload, settleRefusedUpload } from '../../../lib/core/upload-refusal.js';
import { z } from 'zod';
import { callerOf, scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { visibleVolume } from '../usecases/lookup.js';
import { openVolumeExport } from '../usecases/volume-export.js';
import { importVolume } from '../usecases/volume-import.js';
import { importFromShare } from '../usecases/volume-export-to-share.js';
import { importOntoVolume } from '../usecases/volume-import-onto.js';
import { looseBool, name, noQuery, pathIds, uuid } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { showVolume } from './volumes.js';
import { operationView } from '../views/operation-view.js';
import { RangeDone, rangeSink, wantedRange } from './byte-range.js';
import type { RouteDef } from './route.js';

export const ARCHIVE_MEDIA_TYPE = 'application/x-tar';
const IMPORT_PATH = /^\/v3(?:\/[^/?]+)?\/os-(?:volume|instance)-import(?:\?|$)/;
/** The incremental import onto an existing volume. */
const IMPORT_ONTO_PATH = /^\/v3(?:\/[^/?]+)?\/volumes\/[^/?]+\/os-import(?:\?|$)/;

/** The one request whose body is not JSON: an import's archive (POST, application/x-tar). */
export function isArchiveUpload(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  return req.method === 'POST' && type === ARCHIVE_MEDIA_TYPE && (IMPORT_PATH.test(req.url ?? '') || IMPORT_ONTO_PATH.test(req.url ?? ''));
}

/**
 * An import reads its archive from the request stream, so any other body is refused before
 * anything is taken: a JSON body has already been read to its end by the JSON parser, and
 * reading the stream again waited forever (an import onto a volume holding the volume's lease).
 */
export function requireArchiveBody(req: IncomingMessage): void {
  if (!isArchiveUpload(req)) {
    throw new StorageError('UNSUPPORTED_MEDIA_TYPE', `an import's body must be an archive (${ARCHIVE_MEDIA_TYPE})`, { details: { expected: ARCHIVE_MEDIA_TYPE } });
  }
}

/** The error handler's hook: a refused import's unread archive is drained (bounded) or held back, see upload-refusal.ts. */
export function refusedUploadSettler(drainLimit: string): (req: IncomingMessage, res: ServerResponse) => Promise<void> | void {
  const bytes = parseByteSize(drainLimit);
  return (req, res) => (isArchiveUpload(req) ? settleRefusedUpload(req, res, bytes) : undefined);
}

const exportQuery = z.strictObject({ since: uuid.optional() });
const importOntoQuery = z.strictObject({});
/** `file`: a bare name in the share's exports directory (the driver's rule); `to_share`: where the new volume goes (default: placement). */
const importFromShareBody = z.strictObject({
  import: z.strictObject({ share: z.string().min(1).max(1024), file: z.string().min(1).max(255), name: name.optional(), keep_ids: looseBool.optional(), to_share: z.string().max(1024).optional() }),
});
const importQuery = z.strictObject({ keep_ids: looseBool.optional(), name: name.optional(), share: z.string().max(1024).optional() });

export function volumeTransferRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'get', path: '/volumes/:volume_id/os-export', versioned: true, policy: 'qcowshare:volume:export', status: 200,
      summary: 'Export the volume with its snapshot tree as a tar archive (since=<snapshot>: incremental)',
      handler: async (req, res) => {
        const { volume_id } = parse(pathIds.volume, req.params, 'path');
        const q = parse(exportQuery, req.query, 'query');
        scopedProject(req);
        const v = await visibleVolume(deps, callerOf(req), volume_id);
        const stream = await openVolumeExport(deps, v, q.since ?? null, callerOf(req).userId);
        const total = stream.opened.bytes;
        // Resumable only when the bytes are the same on the next request: a full export of a
        // detached volume (an attached one's temporary snapshot is new each time).
        const resumable = q.since === undefined && v.attachStatus === 'detached';
        const etag = `"${stream.opened.validator}"`;
        const wanted = resumable ? wantedRange(req, total, etag) : { kind: 'whole' as const };
        if (wanted.kind === 'unsatisfiable') {
          await stream.cancel();
          res.set('content-range', `bytes */${total}`);
          throw new StorageError('RANGE_NOT_SATISFIABLE', `no byte of the range is in the archive (${total} bytes)`, { details: { length: total } });
        }
        res.set({ 'content-type': ARCHIVE_MEDIA_TYPE, 'content-disposition': `attachment; filename="volume-${v.id}.tar"` });
        if (resumable) res.set({ 'accept-ranges': 'bytes', etag });
        const [start, end] = wanted.kind === 'part' ? [wanted.start, wanted.end] : [0, total - 1];
        if (wanted.kind === 'part') res.status(206).set('content-range', `bytes ${start}-${end}/${total}`);
        else res.status(200);
        res.set('content-length', String(end - start + 1));
        // The body ends once the export let go of the lease (rangeSink); past the headers an
        // error can only cut it short: the client sees fewer bytes than announced.
        const sink = rangeSink(res, start, end);
        await stream.run(sink).then(() => sink.finishBody(), (err: unknown) => {
          // Stopping the archive once the range is out surfaces as RangeDone or as the error of
          // whichever stream of the pipeline noticed first (tar-stream's "entry destroyed").
          if (err instanceof RangeDone || sink.rangeSent()) return void sink.finishBody();
          deps.log.warn({ err, volumeId: v.id }, 'export stream ended early');
          res.destroy();
        });
      },
    },
    {
      method: 'post', path: '/os-volume-import', versioned: true, policy: 'qcowshare:volume:import', status: 201,
      summary: 'Import a volume with its snapshot tree from a tar archive (body: application/x-tar)',
      handler: async (req, res) => {
        const q = parse(importQuery, req.query, 'query');
        const project = scopedProject(req);
        requireArchiveBody(req);
        acceptUpload(req, res);
        const { volume, operation } = await importVolume(deps, callerOf(req), project, req, { keepIds: q.keep_ids ?? false, name: q.name ?? null, share: q.share ?? null });
        res.status(201).set('x-operation-id', operation.id).json(await showVolume(deps, req, volume));
      },
    },
    {
      method: 'post', path: '/os-volume-import-from-share', versioned: true, policy: 'qcowshare:volume:import_from_share', status: 202,
      summary: 'Import a volume with its snapshot tree from an export archive file on a share, as an operation (admin; body: {"import": {share, file, ...}}; 202 with the import_volume operation)',
      handler: async (req, res) => {
        parse(noQuery, req.query, 'query');
        const { import: b } = parse(importFromShareBody, req.body, 'body');
        const project = scopedProject(req);
        const operation = await importFromShare(deps, callerOf(req), project, { share: b.share, name: b.file }, { keepIds: b.keep_ids ?? false, name: b.name ?? null, share: b.to_share ?? null });
        // The volume (operation.volume_id) appears, available, with the operation's success.
        res.status(202).set('x-operation-id', operation.id).json({ operation: operationView(operation) });
      },
    },
    {
      method: 'post', path: '/volumes/:volume_id/os-import', versioned: true, policy: 'qcowshare:volume:import', status: 200,
      summary: 'Import an incremental archive onto this volume (an earlier import of the same source holding the base snapshot; body: application/x-tar)',
      handler: async (req, res) => {
        const { volume_id } = parse(pathIds.volume, req.params, 'path');
        parse(importOntoQuery, req.query, 'query');
        scopedProject(req);
        const v = await visibleVolume(deps, callerOf(req), volume_id);
        requireArchiveBody(req);
        const volume = await importOntoVolume(deps, callerOf(req), v, req, () => acceptUpload(req, res));
        res.status(200).json(await showVolume(deps, req, volume));
      },
    },
  ];
}
