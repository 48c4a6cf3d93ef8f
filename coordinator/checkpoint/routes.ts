/**
 * Checkpoints of an instance on this host (service-token auth like every route):
 *   POST   /v1/instances/{uuid}/checkpoints  {name?, description?, mode?, quiesce?, exclude?} → 201 {checkpoint}
 *   GET    /v1/instances/{uuid}/checkpoints                      → 200 {checkpoints}
 *   GET    /v1/instances/{uuid}/checkpoints/{id}                 → 200 {checkpoint}
 *   POST   /v1/instances/{uuid}/checkpoints/{id}/revert {paused?} → 200 {checkpoint, detached_volumes}
 *   DELETE /v1/instances/{uuid}/checkpoints/{id}                 → 204
 * Calls run to the end before answering (no job record yet); one at a time per instance, shared
 * with snapshots and attaches through the domain lock.
 */
import type { RouteMount } from '../http/app.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import express, { Router, type Express } from 'express';
import { z } from 'zod';
import type { KeyedMutex } from '../../lib/core/keyed-mutex.js';
import type { Logger } from '../../lib/core/logger.js';
import { isUuid } from '../../lib/core/volume-names.js';
import { requireServiceToken } from '../http/auth.js';
import { errorHandler, invalidInput } from '../http/errors.js';
import { CHECKPOINTS_DIR } from './plan.js';
import {
  deleteCheckpoint, readCheckpoint, revertCheckpoint, settleRevert, settleTake, takeCheckpoint, type CheckpointDeps,
} from './runner.js';

const target = z.string().regex(/^[a-z]{2,4}[a-z0-9]{0,4}$/);
const createBody = z.strictObject({
  name: z.string().max(255).optional(),
  description: z.string().max(1024).optional(),
  mode: z.enum(['consistent', 'live']).optional(),
  quiesce: z.boolean().optional(),
  exclude: z.array(target).max(64).optional(),
});
const revertBody = z.strictObject({ paused: z.boolean().optional() });
const uuid = z.string().uuid();

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw invalidInput(r.error);
  return r.data;
}

export function checkpointRoutes(deps: CheckpointDeps, locks: KeyedMutex): Router {
  const r = Router();
  const base = '/v1/instances/:uuid/checkpoints';
  r.post(base, async (req, res) => {
    const instanceUuid = parse(uuid, req.params.uuid);
    const body = parse(createBody, req.body ?? {});
    const checkpoint = await locks.run(instanceUuid, () => takeCheckpoint(deps, { instanceUuid, ...body }));
    res.status(201).json({ checkpoint });
  });
  r.get(base, async (req, res) => {
    const instanceUuid = parse(uuid, req.params.uuid);
    const dir = path.join(deps.shareMount, CHECKPOINTS_DIR, instanceUuid.toLowerCase());
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    const checkpoints = [];
    for (const id of names.filter(isUuid)) checkpoints.push(await readCheckpoint(deps, instanceUuid, id).catch(() => ({ id, status: 'error' })));
    res.json({ checkpoints });
  });
  r.get(`${base}/:id`, async (req, res) => {
    res.json({ checkpoint: await readCheckpoint(deps, parse(uuid, req.params.uuid), parse(uuid, req.params.id)) });
  });
  r.post(`${base}/:id/revert`, async (req, res) => {
    const instanceUuid = parse(uuid, req.params.uuid);
    const id = parse(uuid, req.params.id);
    const body = parse(revertBody, req.body ?? {});
    const result = await locks.run(instanceUuid, () => revertCheckpoint(deps, instanceUuid, id, body));
    res.json({ checkpoint: await readCheckpoint(deps, instanceUuid, id), detached_volumes: result.detachedVolumes });
  });
  r.delete(`${base}/:id`, async (req, res) => {
    const instanceUuid = parse(uuid, req.params.uuid);
    await locks.run(instanceUuid, () => deleteCheckpoint(deps, instanceUuid, parse(uuid, req.params.id)));
    res.status(204).end();
  });
  return r;
}

/** An app serving these routes first and everything else from `inner`. */
/** The checkpoint routes as a group of the coordinator's one app (http/app.ts). */
export function checkpointMount(deps: CheckpointDeps, locks: KeyedMutex, serviceToken: string): RouteMount {
  // use() matches by prefix: this also covers /{id} and /{id}/revert.
  return { paths: ['/v1/instances/:uuid/checkpoints'], use: [requireServiceToken(serviceToken), express.json({ limit: '16kb' })], router: checkpointRoutes(deps, locks) };
}

/** The group alone in an app of its own, with the coordinator's error answers (tests drive the routes this way). */
export function withCheckpointRoutes(inner: Express, deps: CheckpointDeps, locks: KeyedMutex, serviceToken: string, log: Logger): Express {
  const outer = express();
  outer.disable('x-powered-by');
  const m = checkpointMount(deps, locks, serviceToken);
  outer.use(m.paths, ...m.use);
  outer.use(m.router);
  outer.use(m.paths, errorHandler(log));
  outer.use(inner);
  return outer;
}

/** The settle pass at start: interrupted takes and reverts are finished or undone. */
export async function settleAllReverts(deps: CheckpointDeps, log: Logger): Promise<void> {
  const root = path.join(deps.shareMount, CHECKPOINTS_DIR);
  const instances = (await fs.readdir(root).catch(() => [] as string[])).filter(isUuid);
  for (const instanceUuid of instances) {
    const ids = (await fs.readdir(path.join(root, instanceUuid)).catch(() => [] as string[])).filter(isUuid);
    for (const id of ids) {
      try {
        const outcome = await settleTake(deps, instanceUuid, id);
        if (outcome !== 'none') log.warn({ instance: instanceUuid, checkpoint: id, outcome }, 'settled an interrupted checkpoint take');
      } catch (err) {
        log.error({ instance: instanceUuid, checkpoint: id, err: (err as Error).message }, 'could not settle an interrupted checkpoint take');
      }
    }
    try {
      const outcome = await settleRevert(deps, instanceUuid);
      if (outcome !== 'none') log.warn({ instance: instanceUuid, outcome }, 'settled an interrupted checkpoint revert');
    } catch (err) {
      log.error({ instance: instanceUuid, err: (err as Error).message }, 'could not settle an interrupted checkpoint revert; the instance keeps its previous definition');
    }
  }
}
