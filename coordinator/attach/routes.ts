/**
 * Attach / detach routes, in front of the daemon's app (same service-token auth):
 *   POST   /v1/instances/{uuid}/volumes/{volume_id}  → 201 {attachment} (200 when already attached)
 *   DELETE /v1/instances/{uuid}/volumes/{volume_id}  → 204
 *   GET    /v1/instances/{uuid}/volumes/{volume_id}  → 200 {attach_state} (attach-state.ts: what the
 *          storage side settles an attachment left `attaching` from)
 */
import { Router } from 'express';
import { z } from 'zod';
import type { RouteMount } from '../http/app.js';
import { requireServiceToken } from '../http/auth.js';
import { invalidInput } from '../http/errors.js';
import { attachState } from './attach-state.js';
import { attachVolume, detachVolume, type AttachDeps } from './attach-volume.js';

const uuid = z.string().uuid();

function ids(params: Record<string, string | undefined>): { instance: string; volumeId: string } {
  const r = z.object({ uuid, volumeId: uuid }).safeParse(params);
  if (!r.success) throw invalidInput(r.error);
  return { instance: r.data.uuid, volumeId: r.data.volumeId };
}

export function attachRoutes(d: AttachDeps): Router {
  const r = Router();
  const route = '/v1/instances/:uuid/volumes/:volumeId';
  r.post(route, async (req, res) => {
    const { instance, volumeId } = ids(req.params);
    const { disk, created } = await attachVolume(d, instance, volumeId);
    res.status(created ? 201 : 200).json({ attachment: disk });
  });
  r.get(route, async (req, res) => {
    const { instance, volumeId } = ids(req.params);
    res.json({ attach_state: await attachState(d, instance, volumeId) });
  });
  r.delete(route, async (req, res) => {
    const { instance, volumeId } = ids(req.params);
    await detachVolume(d, instance, volumeId);
    res.status(204).end();
  });
  return r;
}

/** The attach routes as a group of the daemon's app (http/app.ts). */
export function attachMount(d: AttachDeps, serviceToken: string): RouteMount {
  return { paths: '/v1/instances/:uuid/volumes/:volumeId', use: [requireServiceToken(serviceToken)], router: attachRoutes(d) };
}
