/**
 * Export and import of an instance with its volumes and checkpoints (issue 15 item 4), admin only:
 * the archive is the response body (GET, Content-Length known up front) or the request body (POST,
 * application/x-tar, streamed; exempt from the JSON body rule like a volume import, isArchiveUpload).
 */
import { z } from 'zod';
import { acceptUpload } from '../../../lib/core/upload-refusal.js';
import { callerOf, scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { openInstanceExport } from '../usecases/instances/instance-export.js';
import { importInstanceArchive } from '../usecases/instances/instance-import.js';
import { looseBool, noQuery, uuid } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { parseVolumeShares } from '../validation/volume-share-map.js';
import { ARCHIVE_MEDIA_TYPE, requireArchiveBody } from './volume-transfer.js';
import type { RouteDef } from './route.js';

const instancePath = z.strictObject({ project_id: z.string().optional(), instance_uuid: uuid });
/** volume_share: once per mapped volume (validation/volume-share-map.ts). */
const importQuery = z.strictObject({ share: z.string().max(1024).optional(), keep_ids: looseBool.optional(), volume_share: z.unknown().optional() });

export function instanceTransferRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'get', path: '/os-instances/:instance_uuid/os-export', versioned: true, policy: 'qcowshare:instance:export', status: 200,
      summary: 'Export a shut-off instance with its definition, volumes (with their trees) and checkpoints as a tar archive (admin)',
      handler: async (req, res) => {
        const { instance_uuid } = parse(instancePath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        scopedProject(req);
        const stream = await openInstanceExport(deps, instance_uuid.toLowerCase());
        res.status(200).set({
          'content-type': ARCHIVE_MEDIA_TYPE, 'content-disposition': `attachment; filename="instance-${instance_uuid.toLowerCase()}.tar"`,
          'content-length': String(stream.opened.bytes),
        });
        // Past the headers an error can only cut the body short: the client sees fewer bytes than announced.
        await stream.run(res).catch((err: unknown) => {
          deps.log.warn({ err, instance: instance_uuid }, 'instance export stream ended early');
          res.destroy();
        });
      },
    },
    {
      method: 'post', path: '/os-instance-import', versioned: true, policy: 'qcowshare:instance:import', status: 201,
      summary: 'Import an instance archive: new volumes with their trees, checkpoint rows and files on the share, or each volume on the share volume_share=<archived id>:<share> names (admin; body: application/x-tar)',
      handler: async (req, res) => {
        const q = parse(importQuery, req.query, 'query');
        const volumeShares = parseVolumeShares(q.volume_share);
        const project = scopedProject(req);
        requireArchiveBody(req);
        acceptUpload(req, res);
        const got = await importInstanceArchive(deps, callerOf(req), project, req, { share: q.share ?? null, volumeShares, keepIds: q.keep_ids ?? false });
        res.status(201).json({
          instance_import: {
            instance_uuid: got.instanceUuid,
            volumes: got.volumes.map((v) => ({ id: v.id, source_id: v.sourceId })),
            checkpoints: got.checkpoints.map((c) => ({ id: c.id, source_id: c.sourceId, name: c.name })),
            operations: got.operations,
          },
        });
      },
    },
  ];
}
