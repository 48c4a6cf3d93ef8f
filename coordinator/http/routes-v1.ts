/**
 * The product's own routes (the explicit plan form and compute-initiated snapshots):
 *   POST /v1/snapshots                 SnapshotCreatePlan   → 202 {job} (200 when already known)
 *   POST /v1/merges                    MergePlan            → 202 {job} (200 when already known)
 *   POST /v1/instances/{uuid}/snapshots {volumes, quiesce, name} → 202 {job}; ?wait=true → 200 when ended
 *   GET  /v1/jobs, /v1/jobs/{id};  POST /v1/jobs/{id}/cancel (only before the commit point)
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { mergePlan, snapshotCreatePlan } from '../../lib/protocol/assisted-snapshot.js';
import { StorageError } from '../../lib/core/errors.js';
import type { Engine } from '../jobs/engine.js';
import type { Admitted, UseCases } from '../use-cases.js';
import { invalidInput } from './errors.js';

const uuid = z.string().uuid();
const instanceBody = z.strictObject({
  volumes: z.union([z.literal('all'), z.array(uuid).min(1).max(64)]).default('all'),
  quiesce: z.enum(['require', 'prefer', 'off']).optional(),
  name: z.string().min(1).max(255).optional(),
});

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw invalidInput(r.error);
  return r.data;
}

/**
 * No body means the defaults; a body that express.json did not read (not declared as JSON) is
 * refused, never replaced by the defaults: they snapshot every volume with the default quiesce.
 */
function optionalBody(req: Request): unknown {
  if (req.body !== undefined) return req.body ?? {};
  const announced = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (announced) throw new StorageError('INVALID_INPUT', 'the request body must be JSON (Content-Type: application/json)');
  return {};
}

function answer(res: Response, a: Admitted): void {
  res.status(a.created ? 202 : 200).json({ job: a.job });
}

export function v1Routes(uc: UseCases, engine: Engine): Router {
  const r = Router();
  r.post('/v1/snapshots', async (req, res) => answer(res, await uc.planCreate(parse(snapshotCreatePlan, req.body))));
  r.post('/v1/merges', async (req, res) => answer(res, await uc.planMerge(parse(mergePlan, req.body))));
  r.post('/v1/instances/:uuid/snapshots', async (req, res) => {
    const instance = parse(uuid, req.params.uuid);
    const a = await uc.instanceSnapshot(instance, parse(instanceBody, optionalBody(req)));
    if (req.query.wait !== 'true') return answer(res, a);
    res.status(200).json({ job: (await engine.settle(a.job.id)) ?? a.job });
  });
  r.get('/v1/jobs', (_req, res) => { res.json({ jobs: engine.list() }); });
  r.get('/v1/jobs/:id', (req, res) => {
    const job = engine.get(String(req.params.id));
    if (!job) throw new StorageError('NOT_FOUND', `no job ${req.params.id}`);
    res.json({ job });
  });
  r.post('/v1/jobs/:id/cancel', (req, res) => { res.json({ job: engine.cancel(String(req.params.id)) }); });
  return r;
}
