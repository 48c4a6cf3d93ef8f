/**
 * /v3/{project_id}/os-checkpoints (extension): checkpoints of instances, memory + disks, taken
 * and reverted by the coordinator of the instance's host (usecases/checkpoints). Create, revert
 * and delete answer 202 at once; the row's status says when the host is done.
 */
import { z } from 'zod';
import { callerOf, scopedProject } from '../auth.js';
import { isAdmin, seesAllProjects, type ServiceDeps } from '../context.js';
import { authorize } from '../policy.js';
import { createCheckpoint, deleteCheckpoint, revertToCheckpoint, visibleCheckpoint } from '../usecases/checkpoints/checkpoints.js';
import { noQuery, uuid } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { checkpointView } from '../views/checkpoint-view.js';
import type { RouteDef } from './route.js';

const target = z.string().regex(/^[a-z]{2,4}[a-z0-9]{0,4}$/, 'must be a disk target such as vdb');
const createBody = z.strictObject({
  checkpoint: z.strictObject({
    instance_uuid: uuid,
    name: z.string().max(255).optional(),
    description: z.string().max(1024).optional(),
    mode: z.enum(['consistent', 'live']).optional(),
    exclude: z.array(target).max(64).optional(),
  }),
});
// host: restore on another registered compute host that mounts the share (admin only; the instance then belongs to it).
// old_host_fenced: with host, the current host is down and fenced: restore even when it cannot be asked to release the instance.
const actionBody = z.strictObject({
  revert: z.strictObject({ paused: z.boolean().optional(), host: z.string().min(1).max(255).optional(), old_host_fenced: z.boolean().optional() }),
});
const listQuery = z.strictObject({ instance_uuid: uuid.optional(), all_tenants: z.enum(['true', 'false', '1', '0']).optional() });
const checkpointPath = z.strictObject({ project_id: z.string().optional(), checkpoint_id: uuid });

export function checkpointRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'post', path: '/os-checkpoints', versioned: true, policy: 'qcowshare:checkpoint:create', status: 202,
      summary: 'Take a checkpoint (memory + every managed volume) of an instance through the coordinator of its host',
      handler: async (req, res) => {
        parse(noQuery, req.query, 'query');
        const body = parse(createBody, req.body, 'body').checkpoint;
        const project = scopedProject(req);
        const c = await createCheckpoint(deps, callerOf(req), project, {
          instanceUuid: body.instance_uuid.toLowerCase(), name: body.name, description: body.description, mode: body.mode, exclude: body.exclude,
        });
        res.status(202).json({ checkpoint: checkpointView(c) });
      },
    },
    {
      method: 'get', path: '/os-checkpoints', versioned: true, policy: 'qcowshare:checkpoint:get_all', status: 200, summary: 'List checkpoints (optionally of one instance)',
      handler: async (req, res) => {
        const q = parse(listQuery, req.query, 'query');
        const project = scopedProject(req);
        const all = q.all_tenants === 'true' || q.all_tenants === '1';
        if (all && !seesAllProjects(callerOf(req))) authorize(callerOf(req), 'qcowshare:cross_project');
        const rows = await deps.repos.checkpoints.list(all ? null : project, q.instance_uuid?.toLowerCase());
        res.json({ checkpoints: rows.map((c) => checkpointView(c)) });
      },
    },
    {
      method: 'get', path: '/os-checkpoints/:checkpoint_id', versioned: true, policy: 'qcowshare:checkpoint:get', status: 200, summary: 'Show a checkpoint',
      handler: async (req, res) => {
        const { checkpoint_id } = parse(checkpointPath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        scopedProject(req);
        const caller = callerOf(req);
        res.json({ checkpoint: checkpointView(await visibleCheckpoint(deps, caller, checkpoint_id), { admin: isAdmin(caller) }) });
      },
    },
    {
      method: 'delete', path: '/os-checkpoints/:checkpoint_id', versioned: true, policy: 'qcowshare:checkpoint:delete', status: 202,
      summary: "Delete a checkpoint (its memory file and definition on the share; its snapshot points stay files of their volumes' chains)",
      handler: async (req, res) => {
        const { checkpoint_id } = parse(checkpointPath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        scopedProject(req);
        await deleteCheckpoint(deps, await visibleCheckpoint(deps, callerOf(req), checkpoint_id));
        res.status(202).end();
      },
    },
    {
      method: 'post', path: '/os-checkpoints/:checkpoint_id/action', versioned: true, policy: 'qcowshare:checkpoint:revert', status: 202,
      summary: 'Revert the instance to the checkpoint: {"revert": {"paused"?: bool, "host"?: compute host (admin), "old_host_fenced"?: bool (with host)}} (later checkpoints are kept)',
      handler: async (req, res) => {
        const { checkpoint_id } = parse(checkpointPath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        const body = parse(actionBody, req.body, 'body');
        scopedProject(req);
        const caller = callerOf(req);
        const { host, old_host_fenced: oldHostFenced } = body.revert;
        await revertToCheckpoint(deps, await visibleCheckpoint(deps, caller, checkpoint_id), body.revert.paused, {
          ...(host === undefined ? {} : { host }), ...(oldHostFenced === undefined ? {} : { oldHostFenced }), caller,
        });
        res.status(202).end();
      },
    },
  ];
}
