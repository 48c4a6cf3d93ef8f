/**
 * Checkpoints of an instance on this host (service-token auth like every route):
 *   POST   /v1/instances/{uuid}/checkpoints  {id?, name?, description?, mode?, quiesce?, exclude?} → 201 {checkpoint}
 *   GET    /v1/instances/{uuid}/checkpoints                      → 200 {checkpoints}
 *   GET    /v1/instances/{uuid}/checkpoints/{id}                 → 200 {checkpoint}
 *   GET    /v1/instances/{uuid}/checkpoints/{id}/job             → 200 {job} (the latest take/revert/delete)
 *   POST   /v1/instances/{uuid}/checkpoints/{id}/revert {paused?} → 200 {checkpoint, detached_volumes}
 *   DELETE /v1/instances/{uuid}/checkpoints/{id}                 → 204
 *   GET    /v1/instances/{uuid}/definition                       → 200 {instance: {uuid, state, definition}} (instance export)
 *   GET    /v1/instances/{uuid}/presence → 200 {instance: {present, active, disks}} (whether this host has it)
 *   POST   /v1/instances/{uuid}/release  → 200 {released: {present, active, disks}} (destroyed and
 *          undefined here, files kept, before another host restores it; host-release.ts)
 *   POST   /v1/instances/{uuid}/define {sources: [{volume_id, file}]} → 201 {instance: {present, active, disks}}
 *          (an imported instance defined here from its imported definition, stopped; define-imported.ts)
 * Calls run to the end before answering; each is also a job persisted on the share (jobs.ts), so a
 * caller that lost the answer asks for the job. One at a time per instance, shared with snapshots
 * and attaches through the domain lock. The caller may name a take (`id`): the storage service
 * gives its row's id, so it can find the checkpoint after a crash on either side.
 */
import type { RouteMount } from '../http/app.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import express, { Router, type Express } from 'express';
import { z } from 'zod';
import { StorageError } from '../../lib/core/errors.js';
import type { KeyedMutex } from '../../lib/core/keyed-mutex.js';
import { logger as rootLogger, type Logger } from '../../lib/core/logger.js';
import { isUuid } from '../../lib/core/volume-names.js';
import { DomainState, DomainXmlFlags } from '../../lib/libvirt/constants.js';
import { requireServiceToken } from '../http/auth.js';
import { errorHandler, invalidInput } from '../http/errors.js';
import { defineImported } from './define-imported.js';
import { presenceOf, releaseInstance } from './host-release.js';
import { readJob, runJob, settleJobs, type InstanceSettle } from './jobs.js';
import { CHECKPOINTS_DIR } from './plan.js';
import {
  deleteCheckpoint, readCheckpoint, revertCheckpoint, settleRevert, settleTake, takeCheckpoint, type CheckpointDeps,
} from './runner.js';

const target = z.string().regex(/^[a-z]{2,4}[a-z0-9]{0,4}$/);
const createBody = z.strictObject({
  id: z.string().uuid().optional(),
  name: z.string().max(255).optional(),
  description: z.string().max(1024).optional(),
  mode: z.enum(['consistent', 'live']).optional(),
  quiesce: z.boolean().optional(),
  exclude: z.array(target).max(64).optional(),
});
// overlays: the storage side's new overlay of each volume (bare names; written on the snapshot's file by its tree rules).
const revertBody = z.strictObject({
  paused: z.boolean().optional(),
  overlays: z.array(z.strictObject({ volume_id: z.string().uuid(), file: z.string().min(1).max(255) })).max(64).optional(),
});
const uuid = z.string().uuid();
// sources: the file each of the instance's volumes is active on (bare names, the storage side's tree).
const defineBody = z.strictObject({
  sources: z.array(z.strictObject({ volume_id: z.string().uuid(), file: z.string().min(1).max(255) })).min(1).max(64),
});

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw invalidInput(r.error);
  return r.data;
}

export function checkpointRoutes(deps: CheckpointDeps, locks: KeyedMutex, log: Logger = rootLogger('checkpoint')): Router {
  const r = Router();
  const base = '/v1/instances/:uuid/checkpoints';
  r.post(base, async (req, res) => {
    const instanceUuid = parse(uuid, req.params.uuid);
    const body = parse(createBody, req.body ?? {});
    const id = (body.id ?? randomUUID()).toLowerCase();
    const checkpoint = await locks.run(instanceUuid, async () => {
      // A named take that exists (or ran) already is refused before its job would be overwritten.
      if (body.id !== undefined && (await readJob(deps, instanceUuid, id)) !== null) {
        throw new StorageError('CONFLICT', `checkpoint ${id} of instance ${instanceUuid} was taken already`, { details: { checkpointId: id } });
      }
      return runJob(deps, log, instanceUuid, id, 'take', (job) => takeCheckpoint(deps, {
        instanceUuid, ...body, id, onProgress: (done, total) => job.progress(Number((done * 100n) / (total > 0n ? total : 1n))),
      }));
    });
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
  // The instance's persistent definition and state, for the storage side's instance export (it
  // exports only a shut-off instance: its disks are then not written). Never the SECURE form.
  r.get('/v1/instances/:uuid/definition', async (req, res) => {
    const instanceUuid = parse(uuid, req.params.uuid);
    const dom = await deps.libvirt.lookupByUuid(instanceUuid);
    const { state } = await deps.libvirt.getState(dom);
    const definition = await deps.libvirt.getXmlDesc(dom, DomainXmlFlags.INACTIVE);
    res.json({ instance: { uuid: instanceUuid.toLowerCase(), state: state === DomainState.SHUTOFF ? 'shutoff' : 'active', definition } });
  });
  r.get(`${base}/:id`, async (req, res) => {
    res.json({ checkpoint: await readCheckpoint(deps, parse(uuid, req.params.uuid), parse(uuid, req.params.id)) });
  });
  r.get(`${base}/:id/job`, async (req, res) => {
    const instanceUuid = parse(uuid, req.params.uuid);
    const id = parse(uuid, req.params.id);
    const job = await readJob(deps, instanceUuid, id);
    if (job === null) throw new StorageError('NOT_FOUND', `no job of checkpoint ${id} of instance ${instanceUuid}`);
    res.json({ job });
  });
  r.post(`${base}/:id/revert`, async (req, res) => {
    const instanceUuid = parse(uuid, req.params.uuid);
    const id = parse(uuid, req.params.id);
    const body = parse(revertBody, req.body ?? {});
    const result = await locks.run(instanceUuid, () => runJob(deps, log, instanceUuid, id, 'revert',
      () => revertCheckpoint(deps, instanceUuid, id, {
        ...(body.paused === undefined ? {} : { paused: body.paused }),
        ...(body.overlays ? { overlays: body.overlays.map((o) => ({ volumeId: o.volume_id.toLowerCase(), file: o.file })) } : {}),
      }), (r) => ({ detachedVolumes: r.detachedVolumes })));
    res.json({ checkpoint: await readCheckpoint(deps, instanceUuid, id), detached_volumes: result.detachedVolumes });
  });
  r.get('/v1/instances/:uuid/presence', async (req, res) => {
    res.json({ instance: await presenceOf(deps.libvirt, parse(uuid, req.params.uuid)) });
  });
  r.post('/v1/instances/:uuid/release', async (req, res) => {
    const instanceUuid = parse(uuid, req.params.uuid);
    const was = await locks.run(instanceUuid, () => releaseInstance(deps.libvirt, instanceUuid));
    log.warn({ instance: instanceUuid, was_active: was.active, was_present: was.present }, 'instance released: another host restores it');
    res.json({ released: was });
  });
  r.post('/v1/instances/:uuid/define', async (req, res) => {
    const instanceUuid = parse(uuid, req.params.uuid);
    const body = parse(defineBody, req.body ?? {});
    const sources = body.sources.map((x) => ({ volumeId: x.volume_id.toLowerCase(), file: x.file }));
    const instance = await locks.run(instanceUuid, () => defineImported(deps, instanceUuid, sources));
    log.info({ instance: instanceUuid, volumes: sources.map((x) => x.volumeId) }, 'imported instance defined here, stopped');
    res.status(201).json({ instance });
  });
  r.delete(`${base}/:id`, async (req, res) => {
    const instanceUuid = parse(uuid, req.params.uuid);
    const id = parse(uuid, req.params.id);
    await locks.run(instanceUuid, () => runJob(deps, log, instanceUuid, id, 'delete', () => deleteCheckpoint(deps, instanceUuid, id)));
    res.status(204).end();
  });
  return r;
}

/** An app serving these routes first and everything else from `inner`. */
/** The checkpoint routes as a group of the coordinator's one app (http/app.ts). */
export function checkpointMount(deps: CheckpointDeps, locks: KeyedMutex, serviceToken: string, log?: Logger): RouteMount {
  // use() matches by prefix: this also covers /{id} and /{id}/revert.
  return { paths: ['/v1/instances/:uuid/checkpoints', '/v1/instances/:uuid/definition', '/v1/instances/:uuid/presence', '/v1/instances/:uuid/release', '/v1/instances/:uuid/define'], use: [requireServiceToken(serviceToken), express.json({ limit: '16kb' })], router: checkpointRoutes(deps, locks, log) };
}

/** The group alone in an app of its own, with the coordinator's error answers (tests drive the routes this way). */
export function withCheckpointRoutes(inner: Express, deps: CheckpointDeps, locks: KeyedMutex, serviceToken: string, log: Logger): Express {
  const outer = express();
  outer.disable('x-powered-by');
  const m = checkpointMount(deps, locks, serviceToken, log);
  outer.use(m.paths, ...m.use);
  outer.use(m.router);
  outer.use(m.paths, errorHandler(log));
  outer.use(inner);
  return outer;
}

/** The settle pass at start: interrupted takes and reverts are finished or undone, then the jobs they interrupted get their outcome. */
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
    const settled: InstanceSettle = { instanceUuid, revert: 'none' };
    try {
      settled.revert = await settleRevert(deps, instanceUuid);
      // Another host's revert: its jobs are that host's to resolve.
      if (settled.revert === 'elsewhere') continue;
      if (settled.revert !== 'none') log.warn({ instance: instanceUuid, outcome: settled.revert }, 'settled an interrupted checkpoint revert');
    } catch (err) {
      settled.revert = 'failed';
      log.error({ instance: instanceUuid, err: (err as Error).message }, 'could not settle an interrupted checkpoint revert; the instance keeps its previous definition');
    }
    await settleJobs(deps, settled, log);
  }
}
