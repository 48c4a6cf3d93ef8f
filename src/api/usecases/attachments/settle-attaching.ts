/**
 * The recovery pass of attachments left `attaching`: the attach's coordinator reserved the volume
 * (attachment create with a connector) and was killed, or stopped answering, before os-complete
 * or its own give-up. Nothing else ever moves such an attachment, so without this pass the volume
 * stays `attaching` for good.
 *
 * Per attachment past the grace (storage.attachSettleGraceMs): ask its host's coordinator (found in
 * the registry of compute hosts, never the recorded endpoint) where the domain has the disk and
 * whether an attach of it runs there (settle-attaching-plan.ts decides), then apply the step as
 * the attachments API does: os-complete (in-use) or the reservation given up (available), each a
 * step of the one state machine under the volume's lease, and only if the attachment did not
 * change since it was read. A host that never answers leaves it `attaching`, reported
 * ATTACH_UNSETTLED with the admin action after storage.attachSettleBoundMs.
 */
import type { Connector } from '../../../../drivers/contract/volume-driver.js';
import { StorageError, isStorageError } from '../../../../lib/core/errors.js';
import { parseAttachState } from '../../../../lib/protocol/attach-state.js';
import { coordinatorCall } from '../../../../lib/protocol/coordinator-call.js';
import type { AttachmentRecord } from '../../../db/records.js';
import type { ServiceDeps } from '../../context.js';
import { coordinatorTls } from '../../coordinator-tls.js';
import { coordinatorOf } from '../compute-hosts.js';
import { volumeRef } from '../lookup.js';
import { runStep } from './run-step.js';
import { dueForSettle, planAttachingSettle, type AttachingFacts, type AttachingStep, type HostAnswer } from './settle-attaching-plan.js';

export interface AttachingSettleReport {
  attachmentId: string;
  volumeId: string;
  step: AttachingStep['kind'] | 'changed';
  details: string;
  /** For ATTACH_UNSETTLED: what an operator does. */
  action?: string;
}

/** A question, not work: a short time-out (an unanswered one is asked again next pass). */
const QUERY_TIMEOUT_MS = 30_000;

async function askHost(deps: ServiceDeps, a: AttachingFacts, volumeId: string): Promise<HostAnswer> {
  try {
    const address = await coordinatorOf(deps, a.host);
    const tls = coordinatorTls(deps.config.api);
    const answer = await coordinatorCall({
      endpoint: address.endpoint, token: address.credential, ...(tls ? { tls } : {}), method: 'GET',
      pathname: `/v1/instances/${encodeURIComponent(a.instanceUuid)}/volumes/${encodeURIComponent(volumeId)}`, timeoutMs: QUERY_TIMEOUT_MS,
      label: `coordinator of ${a.host}`, details: { host_name: a.host }, unknownCode: 'COORDINATOR_UNAVAILABLE',
    });
    const state = parseAttachState(answer, a.host);
    if (state.volume_id !== volumeId || state.instance_uuid !== a.instanceUuid) {
      return { kind: 'unanswered', reason: `host ${a.host} answered about ${state.instance_uuid}/${state.volume_id}` };
    }
    return { kind: 'seen', state };
  } catch (err) {
    // A refusal (an older coordinator without the route, a host removed from the registry) decides nothing either.
    return { kind: 'unanswered', reason: (err as Error).message.slice(0, 500) };
  }
}

/** The attachment as read when the host was asked; anything else (a retry of the attach moved it) is left to the next pass. */
function unchanged(current: AttachmentRecord | null, seen: AttachmentRecord): void {
  if (current === null || current.status !== 'attaching' || current.updatedAt.getTime() !== seen.updatedAt.getTime()) {
    throw new StorageError('INVALID_STATE', `attachment ${seen.id} changed while its host was asked`, { details: { reason: 'ATTACHMENT_CHANGED' } });
  }
}

async function apply(deps: ServiceDeps, a: AttachmentRecord, step: AttachingStep): Promise<void> {
  if (step.kind === 'complete') {
    await runStep(deps, a.volumeId, 'complete', a.id, async ({ current, step: s, t }) => {
      unchanged(current, a);
      await deps.repos.attachments.update(a.id, { status: s.to, attachedAt: new Date() }, t);
    });
    return;
  }
  if (step.kind !== 'release') return;
  await runStep(deps, a.volumeId, 'unreserve', a.id, async ({ current, step: s, t }) => {
    unchanged(current, a);
    await deps.repos.attachments.update(a.id, { status: s.to, detachedAt: new Date() }, t);
  });
  // As an attachment delete does: the driver forgets the host's connection.
  const vol = await deps.repos.volumes.get(a.volumeId);
  if (vol && a.connector !== null) await deps.driver.terminateConnection(volumeRef(vol), a.connector as Connector);
}

async function settleOne(deps: ServiceDeps, a: AttachmentRecord, now: number): Promise<AttachingSettleReport | null> {
  const bounds = { graceMs: deps.config.storage.attachSettleGraceMs, boundMs: deps.config.storage.attachSettleBoundMs };
  if (a.host === null || a.instanceUuid === null || !dueForSettle(a, now, bounds)) return null;
  const facts: AttachingFacts = { id: a.id, host: a.host, instanceUuid: a.instanceUuid, activeFile: a.activeFile, updatedAt: a.updatedAt };
  const step = planAttachingSettle(facts, await askHost(deps, facts, a.volumeId), Date.now(), bounds);
  const report = (kind: AttachingSettleReport['step'], details: string) => ({ attachmentId: a.id, volumeId: a.volumeId, step: kind, details });
  switch (step.kind) {
    case 'wait': return report('wait', step.why);
    case 'unsettled': return { ...report('unsettled', step.reason), action: step.action };
    default:
      try {
        await apply(deps, a, step);
      } catch (err) {
        if (isStorageError(err, 'INVALID_STATE') || isStorageError(err, 'ATTACHMENT_NOT_FOUND') || isStorageError(err, 'VOLUME_BUSY')) {
          return report('changed', `not settled, the attachment or its volume moved meanwhile: ${err.message}`);
        }
        throw err;
      }
      return report(step.kind, step.note);
  }
}

export async function settleAttaching(deps: ServiceDeps): Promise<AttachingSettleReport[]> {
  const reports: AttachingSettleReport[] = [];
  const now = Date.now();
  for (const a of await deps.repos.attachments.withStatus('attaching')) {
    const r = await settleOne(deps, a, now).catch((err: unknown): AttachingSettleReport => ({
      attachmentId: a.id, volumeId: a.volumeId, step: 'wait', details: isStorageError(err) ? `${err.code}: ${err.message}` : String(err),
    }));
    if (r === null) continue;
    reports.push(r);
    if (r.step === 'complete' || r.step === 'release') deps.log.warn(r, 'settled an attachment an interrupted attach left attaching');
    else if (r.step === 'unsettled') deps.log.error({ ...r, code: 'ATTACH_UNSETTLED' }, 'ATTACH_UNSETTLED: an attachment left attaching cannot be settled without an operator');
    else deps.log.info(r, 'attachment left attaching not settled yet');
  }
  return reports;
}
