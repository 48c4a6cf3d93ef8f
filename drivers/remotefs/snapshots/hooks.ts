/**
 * Step boundaries of every operation, named, so that crash tests can kill the process exactly
 * there. Production code never sets a hook; the crash-test child script does.
 */
import { pointHooks } from '../../../lib/core/crash-points.js';

export const STEPS = {
  createOverlayWritten: 'create.overlay_written',
  createInfoWritten: 'create.info_written',
  removeInfoWritten: 'remove.info_written',
  commitIntentWritten: 'commit.intent_written',
  commitStarted: 'commit.started',
  commitDone: 'commit.done',
  /** Before the children are re-pointed (the name is historical: no intent write happens here any more). */
  rebaseIntentWritten: 'commit.rebase_intent_written',
  childRebased: 'commit.child_rebased',
  pullIntentWritten: 'pull.intent_written',
  pullStarted: 'pull.started',
  pullCopied: 'pull.copied',
  pullDone: 'pull.done',
  mergeInfoWritten: 'merge.info_written',
  revertOverlayWritten: 'revert.overlay_written',
  revertInfoWritten: 'revert.info_written',
  revertOldRemoved: 'revert.old_removed',
  extendIntentWritten: 'extend.intent_written',
  extendResized: 'extend.resized',
  /** Live extend of an attached volume: the online intent written, the host not yet asked. */
  extendLiveIntentWritten: 'extend_live.intent_written',
  /** Live extend: the host grew the disk, the info file does not record it yet. */
  extendLiveResized: 'extend_live.resized',
  /** Revert of an attached volume (guest stopped): the online intent written, the definition unchanged. */
  revertAttachedIntentWritten: 'revert_attached.intent_written',
  /** Revert of an attached volume: the definition names the new active file, the info file not yet. */
  revertAttachedSwitched: 'revert_attached.source_switched',
} as const;

export type StepName = (typeof STEPS)[keyof typeof STEPS];

const stepHooks = pointHooks<StepName>();
/** For tests only: called at every step boundary (a crash test kills its own process here). */
export const setStepHook = stepHooks.set;
export const stepBoundary = stepHooks.at;
