/**
 * Named points around the commit point of live operations, for crash tests on the real stack:
 * a test's child-process entry (test/e2e/*-entry.ts) sets a hook that SIGKILLs the process at the
 * point it was told to. Production code never sets a hook, so crashPoint() is a no-op there.
 */
export const CRASH_POINTS = {
  /** Storage service, os-request_commit: checks passed, the grant not yet recorded. */
  storageBeforeGrant: 'storage.before_commit_grant',
  /** Storage service, os-request_commit: the grant recorded (the answer is still being sent). */
  storageAfterGrant: 'storage.after_commit_grant',
  /** Storage service, any asynchronous operation: the driver's work done (info file written), its database transaction not yet run. */
  storageBeforeOutcome: 'storage.before_outcome_transaction',
  /** Storage service, export to a share file: the file's temp created, no byte of the archive written yet. */
  storageExportFileCreated: 'storage.export_file_created',
  /** Storage service, checkpoint take: the row recorded `creating`, nothing sent to the host yet. */
  storageCheckpointBeforeTake: 'storage.checkpoint_before_take',
  /** Storage service, checkpoint take: the host answered that it took it, the row not yet updated. */
  storageCheckpointTaken: 'storage.checkpoint_taken',
  /** Storage service, checkpoint revert: the move (and a first placement's attachments) recorded, the volumes' overlays prepared, the host not yet asked. */
  storageCheckpointBeforeRevert: 'storage.checkpoint_before_revert',
  /** Storage service, checkpoint revert: the host answered that it reverted, the row still says reverting. */
  storageCheckpointReverted: 'storage.checkpoint_reverted',
  /** Storage service, checkpoint delete: the host deleted its files, the member snapshots not yet started, the row still says deleting. */
  storageCheckpointDeletedOnHost: 'storage.checkpoint_deleted_on_host',
  /** Coordinator: a job about to ask for the commit point. */
  coordinatorBeforePermit: 'coordinator.before_permit',
  /** Coordinator: the commit point granted and recorded in the job, the irreversible step not yet run. */
  coordinatorAfterPermit: 'coordinator.after_permit',
  /** Coordinator, checkpoint take: libvirt took it (memory and overlays), the record still says creating. */
  coordinatorCheckpointTaken: 'coordinator.checkpoint_taken',
  /** Coordinator, live extend: about to ask QEMU for the block resize. */
  coordinatorBeforeResize: 'coordinator.before_resize',
  /** Coordinator, live extend: QEMU grew the disk, the answer not yet sent. */
  coordinatorAfterResize: 'coordinator.after_resize',
  /** Coordinator, attach: the storage side reserved the attachment (volume `attaching`), nothing plugged yet. */
  coordinatorAttachReserved: 'coordinator.attach_reserved',
  /** Coordinator, attach: the disk is in the domain (live and persistent), os-complete not yet sent. */
  coordinatorAttachPlugged: 'coordinator.attach_plugged',
  /** Coordinator, detach: the unplug was asked of libvirt, the guest may not have released the disk yet. */
  coordinatorUnplugRequested: 'coordinator.unplug_requested',
} as const;

export type CrashPoint = (typeof CRASH_POINTS)[keyof typeof CRASH_POINTS];

/**
 * The one registry shape of named points a test may hook (these crash points; the snapshot
 * engine's step boundaries): one hook per kind, and reaching a point is a no-op without one.
 */
export interface PointHooks<P extends string> {
  /** Tests only. */
  set(fn: ((point: P) => void) | null): void;
  at(point: P): void;
}

export function pointHooks<P extends string>(): PointHooks<P> {
  let hook: ((point: P) => void) | null = null;
  return { set: (fn) => { hook = fn; }, at: (point) => hook?.(point) };
}

const crashHooks = pointHooks<CrashPoint>();
export const setCrashHook = crashHooks.set;
export const crashPoint = crashHooks.at;
