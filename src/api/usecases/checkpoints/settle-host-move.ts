/**
 * The recovery pass's step for a revert on another compute host that a crash interrupted (row
 * `reverting`, its move `intended`): ask the target and the old host whether they have the
 * instance (host-move-plan.ts decides), then converge the metadata to the answer: the
 * attachments, checkpoints and owner name the host that has it. A first placement (an imported
 * instance, on no host before) recorded its attachments before the host was asked: they stay when
 * the target has the instance, and go on its answer that it does not (first-placement-plan.ts).
 */
import type { Transaction } from 'sequelize';
import type { CheckpointRow, HostMove } from '../../../db/index.js';
import type { ServiceDeps } from '../../context.js';
import { detachReported } from './checkpoints.js';
import { jobOnHost, presenceOnHost } from './coordinator-calls.js';
import { moveInstance, volumesLeftOut } from './host-move.js';
import { planHostMove, type HostAnswer, type MoveStep } from './host-move-plan.js';
import { releasePlacement } from './first-placement.js';
import { isFirstPlacement, planPlacementSettle } from './first-placement-plan.js';
import { shownText } from '../../shown-text.js';

async function ask(deps: ServiceDeps, hostName: string, c: CheckpointRow, withJob: boolean): Promise<HostAnswer> {
  try {
    const presence = await presenceOnHost(deps, hostName, c.instanceUuid);
    const job = withJob && c.coordinatorId !== null ? await jobOnHost(deps, hostName, c.instanceUuid, c.coordinatorId) : null;
    return { kind: 'seen', presence, job };
  } catch (err) {
    return { kind: 'unreachable', reason: (err as Error).message.slice(0, 500) };
  }
}

export interface MoveSettled {
  step: MoveStep;
  record: ((t: Transaction) => Promise<void>) | null;
}

export async function settleHostMove(deps: ServiceDeps, c: CheckpointRow, move: HostMove): Promise<MoveSettled> {
  const target = move.oldHost === 'pending' ? null : await ask(deps, move.to, c, true);
  // A first placement has no old host to ask (move.from is empty).
  const old = move.from !== '' && (move.oldHost === 'pending' || (target?.kind === 'seen' && !target.presence.present)) ? await ask(deps, move.from, c, false) : null;
  const boundMs = deps.config.storage.checkpointSettleBoundMs;
  const stale = Date.now() - c.updatedAt.getTime() > boundMs;
  const step = planHostMove(move, target, old, stale, `${Math.round(boundMs / 1000)} s`);
  const abandoned: HostMove = { ...move, state: 'abandoned' };
  switch (step.kind) {
    case 'wait':
      return { step, record: null };
    case 'moved': {
      const leftOut = await volumesLeftOut(deps, c);
      await moveInstance(deps, c, move);
      await detachReported(deps, c, [...new Set([...step.detachedVolumes, ...leftOut])]);
      deps.log.warn({ checkpoint: c.id, instance: c.instanceUuid, host_name: move.to, from: move.from }, 'an interrupted restore on another host converged: the target has the instance');
      return { step, record: (t) => deps.repos.checkpoints.update(c.id, { status: 'available', error: null, progress: 100 }, new Date(), t) };
    }
    case 'stayed':
      return { step, record: (t) => deps.repos.checkpoints.update(c.id, { status: 'available', error: shownText(deps, step.note), hostMove: abandoned, progress: 100 }, new Date(), t) };
    case 'error': {
      // A first placement's attachments go only on the host's own answer (first-placement-plan.ts).
      const placement = isFirstPlacement(move) ? planPlacementSettle(move, step) : { kind: 'keep' as const };
      if (placement.kind === 'release') await releasePlacement(deps, c, move.to);
      const reason = (placement.kind === 'undecided' ? placement.reason : step.reason).slice(0, 1000);
      return { step: { ...step, reason }, record: (t) => deps.repos.checkpoints.update(c.id, { status: 'error', error: shownText(deps, reason), hostMove: abandoned }, new Date(), t) };
    }
  }
}
