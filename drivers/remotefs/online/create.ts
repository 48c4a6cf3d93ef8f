/**
 * Storage-initiated snapshot of an attached volume (Cinder's shape, our explicit plan):
 *
 *   prepare (engine)   ... <- A (active)            overlay N = volume-<vid>.<S> over A, online intent
 *   running guest      coordinator: POST /v1/snapshots {new_file: N, expected_top: A}; it asks the
 *                      metadata API for the commit point, freezes, snapshotCreateXML, thaws
 *   stopped guest      coordinator: the definition names N instead of A
 *   commit (engine)    ... <- A (owned by S) <- N (active)   one info write
 *   on failure before the guest (or definition) switched: abandon (intent cleared, N unlinked)
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { CreatedSnapshot, OpContext } from '../../contract/volume-driver.js';
import type { VolumeLocation } from '../snapshots/location.js';
import { prepareOverlayOp, abandonOverlayOp, commitOverlayOp } from '../snapshots/overlay-prepare.js';
import type { CoordinatorClient } from './coordinator-client.js';
import { isRefusal, type CoordinatorHost } from './host.js';
import type { OperationIds } from './operation-ids.js';

interface Prepared { newFile: string; expectedTop: string }

async function switchGuest(client: CoordinatorClient, host: CoordinatorHost, ids: OperationIds, vid: string, sid: string, p: Prepared, ctx: OpContext): Promise<void> {
  if (!host.running) return host.switchSource(p.newFile, 'qcow2', p.expectedTop);
  const submitted = await client.submitSnapshot({
    operation_id: ids.next(), fencing_token: ids.fencingToken, volume_id: vid, snapshot_id: sid,
    new_file: p.newFile, expected_top: p.expectedTop, quiesce: 'prefer',
  });
  const job = await client.waitJob(submitted.id, ctx.signal, ctx.onProgress);
  if (job.state === 'completed') return;
  // ATOMIC snapshot: the guest runs on N or not at all; its live chain says which.
  const top = (await host.disk()).chain[0];
  if (top === p.newFile) return;
  throw new StorageError('BLOCK_JOB_FAILED', `live snapshot ${sid} ${job.state}: ${job.error ?? 'no reason given'}`, { details: { job: job.id, refused: true } });
}

export async function createAttached(loc: VolumeLocation, client: CoordinatorClient, host: CoordinatorHost, ids: OperationIds, sid: string, ctx: OpContext): Promise<CreatedSnapshot> {
  const p = await prepareOverlayOp(loc, sid);
  try {
    await switchGuest(client, host, ids, loc.volumeId, sid, p, ctx);
  } catch (err) {
    // Refused or failed before the switch: nothing uses N. Unknown (no answer): keep the intent,
    // the guest may already write into N (reconcile leaves it to the host).
    if (isRefusal(err)) await abandonOverlayOp(loc, sid);
    throw err;
  }
  return commitOverlayOp(loc, sid);
}
