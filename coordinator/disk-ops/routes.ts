/**
 * Disk operations of an attached volume (service-token auth like every route):
 *   GET  /v1/instances/{uuid}/volumes/{volume_id}/disk            → 200 {disk: DiskState}
 *   POST /v1/instances/{uuid}/volumes/{volume_id}/resize {size_bytes}           → 200 {disk}
 *   PUT  /v1/instances/{uuid}/volumes/{volume_id}/source {file, format, expected_file} → 200 {disk}
 */
import express, { Router } from 'express';
import { z } from 'zod';
import { volumeFileName } from '../../lib/protocol/assisted-snapshot.js';
import type { DomainDevices } from '../attach/devices.js';
import { PendingUnplugs } from '../attach/pending-unplugs.js';
import type { RouteMount } from '../http/app.js';
import { requireServiceToken } from '../http/auth.js';
import { invalidInput } from '../http/errors.js';
import { diskState, resizeDisk, setPersistentSource } from './disk-ops.js';

const ids = z.object({ uuid: z.string().uuid(), volumeId: z.string().uuid() });
const resizeBody = z.strictObject({ size_bytes: z.number().int().positive().max(Number.MAX_SAFE_INTEGER) });
const sourceBody = z.strictObject({ file: volumeFileName, format: z.enum(['qcow2', 'raw']), expected_file: volumeFileName });

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw invalidInput(r.error);
  return r.data;
}

export function diskOpsRoutes(devices: DomainDevices, pending: PendingUnplugs = new PendingUnplugs()): Router {
  const r = Router();
  const base = '/v1/instances/:uuid/volumes/:volumeId';
  r.get(`${base}/disk`, async (req, res) => {
    const p = parse(ids, req.params);
    res.json({ disk: await diskState(devices, p.uuid, p.volumeId, pending) });
  });
  r.post(`${base}/resize`, async (req, res) => {
    const p = parse(ids, req.params);
    res.json({ disk: await resizeDisk(devices, p.uuid, p.volumeId, parse(resizeBody, req.body).size_bytes) });
  });
  r.put(`${base}/source`, async (req, res) => {
    const p = parse(ids, req.params);
    res.json({ disk: await setPersistentSource(devices, p.uuid, p.volumeId, parse(sourceBody, req.body)) });
  });
  return r;
}

/** These routes as a group of the daemon's app (http/app.ts). */
/** `pending`: the detaches' record of the unplugs they asked (attach-volume.ts), so an age starts at the request. */
export function diskOpsMount(devices: DomainDevices, serviceToken: string, pending?: PendingUnplugs): RouteMount {
  const paths = ['/v1/instances/:uuid/volumes/:volumeId/disk', '/v1/instances/:uuid/volumes/:volumeId/resize', '/v1/instances/:uuid/volumes/:volumeId/source'];
  return { paths, use: [requireServiceToken(serviceToken), express.json({ limit: '16kb' })], router: diskOpsRoutes(devices, pending) };
}
