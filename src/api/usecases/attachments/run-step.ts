/**
 * Runs one step of the attachment state machine on a volume: under the volume's lease (so it
 * never interleaves with a chain operation), planned once before any slow work (`prepare`, e.g.
 * the driver's connection info) so that a refused step costs nothing, then planned again and
 * applied in one transaction with a compare-and-set of the volume's status.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'sequelize';
import { isStorageError, StorageError } from '../../../../lib/core/errors.js';
import { inTransaction } from '../../../db/transaction.js';
import type { AttachmentRecord, VolumeRecord } from '../../../db/records.js';
import type { ServiceDeps } from '../../context.js';
import { invalidState } from '../lookup.js';
import { acquireVolumeLease } from '../operation-runner.js';
import { planStep, type AttachmentEvent, type Step } from './state-machine.js';

export type OkStep = Extract<Step, { ok: true }>;

export interface StepContext {
  vol: VolumeRecord;
  /** The open attachment the step acts on; null for a new one. */
  current: AttachmentRecord | null;
  step: OkStep;
  t: Transaction;
}

/** Lease holders of attachment steps: `op:attach-<uuid>` (operation-runner's leaseHolder). */
const STEP_HOLDER = /^op:attach-/;
/**
 * How long a step waits for another attachment step's lease. Those are short (database rows and
 * the driver's connection info), and two Nova requests for one volume at once must get the
 * answer the state machine gives the second (e.g. MULTIATTACH_NOT_SUPPORTED), not VOLUME_BUSY
 * depending on timing. A chain operation's lease is never waited for.
 */
const STEP_WAIT_MS = 30_000;
const STEP_POLL_MS = 25;

async function acquireStepLease(deps: ServiceDeps, volumeId: string) {
  const deadline = Date.now() + STEP_WAIT_MS;
  for (;;) {
    try {
      return await acquireVolumeLease(deps, volumeId, `attach-${randomUUID()}`);
    } catch (err) {
      const holder = isStorageError(err, 'VOLUME_BUSY') ? String(err.details.holder ?? '') : '';
      if (!STEP_HOLDER.test(holder) || Date.now() >= deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, STEP_POLL_MS));
    }
  }
}

export async function underLease<T>(deps: ServiceDeps, volumeId: string, work: () => Promise<T>): Promise<T> {
  const lease = await acquireStepLease(deps, volumeId);
  try {
    return await work();
  } finally {
    await deps.repos.leases.release(lease);
  }
}

async function planned(deps: ServiceDeps, volumeId: string, event: AttachmentEvent, attachmentId: string | null, t?: Transaction) {
  const vol = await deps.repos.volumes.get(volumeId, t, t !== undefined);
  if (!vol) throw new StorageError('VOLUME_NOT_FOUND', `volume ${volumeId} could not be found`, { details: { volume_id: volumeId } });
  const open = await deps.repos.attachments.openOf(volumeId, t);
  const current = attachmentId === null ? open[0] ?? null : open.find((a) => a.id === attachmentId) ?? null;
  if (attachmentId !== null && current === null) {
    throw new StorageError('ATTACHMENT_NOT_FOUND', `attachment ${attachmentId} of volume ${volumeId} could not be found`, { details: { attachment_id: attachmentId } });
  }
  const step = planStep(event, current?.status ?? 'none', vol.status);
  if (!step.ok) {
    throw new StorageError(step.code, `volume ${volumeId}: ${step.reason}`, {
      details: { volume_id: volumeId, status: vol.status, attach_status: current?.status ?? 'none', allowed: step.allowed, ...(current ? { attachment_id: current.id } : {}) },
    });
  }
  return { vol, current, step };
}

/**
 * `event` on the attachment `attachmentId` of the volume (null: its open one, or none).
 * `prepare` runs under the lease, outside the transaction; `apply` writes the attachment row
 * after the volume's status changed.
 */
export async function runStep<T, P = undefined>(deps: ServiceDeps, volumeId: string, event: AttachmentEvent, attachmentId: string | null,
  apply: (c: StepContext, prepared: P) => Promise<T>, prepare?: (c: Omit<StepContext, 't'>) => Promise<P>): Promise<T> {
  return underLease(deps, volumeId, async () => {
    const first = await planned(deps, volumeId, event, attachmentId);
    const prepared = prepare ? await prepare(first) : undefined as P;
    return inTransaction(deps.repos.db, async (t) => {
      const c = await planned(deps, volumeId, event, attachmentId, t);
      if (!(await deps.repos.volumes.transition(volumeId, [c.step.volumeFrom], c.step.volumeTo, t))) {
        throw invalidState('volume', volumeId, (await deps.repos.volumes.get(volumeId, t))?.status ?? 'deleted', [c.step.volumeFrom]);
      }
      return apply({ ...c, t }, prepared);
    });
  });
}
