/**
 * The attachments API (Cinder 3.27 create/list/show/update/delete, 3.44 os-complete, 3.54 mode):
 * the flow a compute service uses to attach a volume. Below 3.27 these routes answer 404, as in
 * Cinder. Every step is a transition of usecases/attachments/state-machine.ts.
 */
import type { Request } from 'express';
import { callerOf, scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { atLeast, requireVersion } from '../microversions/negotiate.js';
import { completeAttachment, connectAttachment, connectionInfoOf, createAttachment, deleteAttachment, visibleAttachment } from '../usecases/attachments/attachments.js';
import { visibleVolume } from '../usecases/lookup.js';
import { attachmentAction, attachmentCreate, attachmentListQuery, attachmentPath, attachmentUpdate } from '../validation/attachments.js';
import { noQuery } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { attachmentDetail, attachmentSummary } from '../views/attachment-view.js';
import { listScope } from './list-params.js';
import type { RouteDef } from './route.js';

const ATTACHMENTS = '3.27';
const COMPLETE = '3.44';
const MODE = '3.54';

/** The version gate, then the project scope of the path: both before the body is read. */
function gate(req: Request, version = ATTACHMENTS, what = 'the attachments API'): void {
  requireVersion(req, version, what);
  scopedProject(req);
}

export function attachmentRoutes(deps: ServiceDeps): RouteDef[] {
  const list = (detail: boolean): RouteDef['handler'] => async (req, res) => {
    gate(req);
    const q = parse(attachmentListQuery, req.query, 'query');
    const rows = await deps.repos.attachments.listOpen({
      projectId: listScope(req, q), limit: q.limit ?? 1000,
      ...(q.volume_id ? { volumeId: q.volume_id } : {}), ...(q.instance_id ? { instanceUuid: q.instance_id } : {}),
    });
    if (!detail) return void res.json({ attachments: rows.map(attachmentSummary) });
    const out: Record<string, unknown>[] = [];
    for (const a of rows) {
      const vol = await deps.repos.volumes.get(a.volumeId);
      out.push(attachmentDetail(a, vol ? await connectionInfoOf(deps, vol, a) : null));
    }
    res.json({ attachments: out });
  };
  return [
    {
      method: 'post', path: '/attachments', versioned: true, policy: 'volume:attachment_create', status: 200,
      summary: 'Create (reserve) an attachment of a volume to an instance; with a connector also connect it (3.27; mode 3.54)',
      handler: async (req, res) => {
        gate(req);
        parse(noQuery, req.query, 'query');
        const body = parse(attachmentCreate(atLeast(req, MODE)), req.body, 'body').attachment;
        const caller = callerOf(req);
        const vol = await visibleVolume(deps, caller, body.volume_uuid);
        const mode = 'mode' in body && body.mode === 'ro' ? 'ro' as const : 'rw' as const;
        const r = await createAttachment(deps, caller, vol, { instanceUuid: body.instance_uuid ?? null, connector: body.connector ?? null, mode });
        res.json({ attachment: attachmentDetail(r.attachment, r.connectionInfo) });
      },
    },
    { method: 'get', path: '/attachments', versioned: true, policy: 'volume:attachment_get_all', status: 200, summary: 'List attachments (3.27)', handler: list(false) },
    { method: 'get', path: '/attachments/detail', versioned: true, policy: 'volume:attachment_get_all', status: 200, summary: 'List attachments with details (3.27)', handler: list(true) },
    {
      method: 'get', path: '/attachments/:attachment_id', versioned: true, policy: 'volume:attachment_get', status: 200, summary: 'Show an attachment (3.27)',
      handler: async (req, res) => {
        gate(req);
        const { attachment_id } = parse(attachmentPath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        const { attachment, volume } = await visibleAttachment(deps, callerOf(req), attachment_id);
        res.json({ attachment: attachmentDetail(attachment, await connectionInfoOf(deps, volume, attachment)) });
      },
    },
    {
      method: 'put', path: '/attachments/:attachment_id', versioned: true, policy: 'volume:attachment_update', status: 200,
      summary: "Update an attachment with the compute host's connector; answers the connection info (3.27)",
      handler: async (req, res) => {
        gate(req);
        const { attachment_id } = parse(attachmentPath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        const { connector } = parse(attachmentUpdate, req.body, 'body').attachment;
        const caller = callerOf(req);
        const { attachment } = await visibleAttachment(deps, caller, attachment_id);
        const r = await connectAttachment(deps, caller, attachment.id, attachment.volumeId, connector);
        res.json({ attachment: attachmentDetail(r.attachment, r.connectionInfo) });
      },
    },
    {
      method: 'post', path: '/attachments/:attachment_id/action', versioned: true, policy: 'volume:attachment_complete', status: 204,
      summary: 'Attachment action os-complete: the compute host has attached the volume (3.44)',
      handler: async (req, res) => {
        gate(req, COMPLETE, 'os-complete');
        const { attachment_id } = parse(attachmentPath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        parse(attachmentAction, req.body, 'body');
        const { attachment } = await visibleAttachment(deps, callerOf(req), attachment_id);
        await completeAttachment(deps, attachment);
        res.status(204).end();
      },
    },
    {
      method: 'delete', path: '/attachments/:attachment_id', versioned: true, policy: 'volume:attachment_delete', status: 200,
      summary: 'Delete (detach) an attachment; answers the attachments left on its volume (3.27)',
      handler: async (req, res) => {
        gate(req);
        const { attachment_id } = parse(attachmentPath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        const { attachment } = await visibleAttachment(deps, callerOf(req), attachment_id);
        await deleteAttachment(deps, attachment);
        const left = await deps.repos.attachments.openOf(attachment.volumeId);
        res.json({ attachments: left.map(attachmentSummary) });
      },
    },
  ];
}
