/**
 * Nova's os-assisted-volume-snapshots, verbatim shapes and meaning, so a Cinder-style caller works
 * unchanged. Paths with and without the /v2.1[/{project_id}] prefix are accepted.
 *   POST   .../os-assisted-volume-snapshots                 → 200 {"snapshot": {"id", "volumeId"}}
 *   DELETE .../os-assisted-volume-snapshots/{id}?delete_info=<json>  → 202
 */
import { Router } from 'express';
import { novaCreateRequest, novaDeleteInfo } from '../../lib/protocol/assisted-snapshot.js';
import { StorageError } from '../../lib/core/errors.js';
import { assertSnapshotId } from '../../lib/core/volume-names.js';
import type { UseCases } from '../use-cases.js';
import { invalidInput } from './errors.js';

const PREFIXES = ['/os-assisted-volume-snapshots', '/v2.1/os-assisted-volume-snapshots', '/v2.1/:projectId/os-assisted-volume-snapshots'];

function parseDeleteInfo(raw: unknown): ReturnType<typeof novaDeleteInfo.parse> {
  if (typeof raw !== 'string') throw new StorageError('INVALID_INPUT', 'delete_info query parameter is required');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new StorageError('INVALID_INPUT', 'delete_info is not JSON');
  }
  const parsed = novaDeleteInfo.safeParse(json);
  if (!parsed.success) throw invalidInput(parsed.error);
  return parsed.data;
}

export function novaRoutes(uc: UseCases): Router {
  const r = Router();
  r.post(PREFIXES, async (req, res) => {
    const parsed = novaCreateRequest.safeParse(req.body);
    if (!parsed.success) throw invalidInput(parsed.error);
    await uc.novaCreate(parsed.data);
    const s = parsed.data.snapshot;
    res.status(200).json({ snapshot: { id: s.create_info.snapshot_id, volumeId: s.volume_id } });
  });
  r.delete(PREFIXES.map((p) => `${p}/:snapshotId`), async (req, res) => {
    const snapshotId = String(req.params.snapshotId);
    assertSnapshotId(snapshotId);
    await uc.novaDelete(snapshotId, parseDeleteInfo(req.query.delete_info));
    res.status(202).end();
  });
  return r;
}
