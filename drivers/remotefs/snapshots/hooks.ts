/**
 * Step boundaries of every operation, named, so that crash tests can kill the process exactly
 * there. Production code never sets a hook; the crash-test child script does.
 */
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
} as const;

export type StepName = (typeof STEPS)[keyof typeof STEPS];

let hook: ((step: StepName) => void) | null = null;

/** For tests only: called at every step boundary (a crash test kills its own process here). */
export function setStepHook(fn: ((step: StepName) => void) | null): void {
  hook = fn;
}

export function stepBoundary(step: StepName): void {
  hook?.(step);
}
