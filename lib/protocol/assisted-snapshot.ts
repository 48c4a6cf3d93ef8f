/**
 * Messages between the storage side (drivers/, src/api) and the compute coordinator
 * (coordinator/). The two never import each other; they share only these schemas.
 *
 * Two dialects are accepted by the coordinator:
 * - Nova's `os-assisted-volume-snapshots` shapes, verbatim and with Nova's meaning, so that a
 *   Cinder-style caller works unchanged;
 * - an explicit plan that this product's own driver sends: the driver decides which files merge
 *   and in which direction; the coordinator only executes it, and refuses a plan whose expected
 *   chain differs from the live one.
 */
import { z } from 'zod';
import { VOLUME_FILE_PATTERN } from '../core/volume-names.js';

const uuid = z.string().uuid();
/** A bare file name of a volume: volume-<uuid> or volume-<uuid>.<uuid>; checked again per volume (volume-names.ts). */
export const volumeFileName = z.string().regex(VOLUME_FILE_PATTERN);

/** Nova: POST /os-assisted-volume-snapshots (extra fields forbidden, as Nova's schema does). */
export const novaCreateRequest = z.strictObject({
  snapshot: z.strictObject({
    volume_id: uuid,
    create_info: z.strictObject({
      snapshot_id: uuid,
      type: z.literal('qcow2'),
      new_file: volumeFileName,
      id: z.string().optional(),
    }),
  }),
});
export type NovaCreateRequest = z.infer<typeof novaCreateRequest>;

/**
 * Nova: DELETE /os-assisted-volume-snapshots/<snapshot id>?delete_info=<json>.
 * Nova's meaning: when `merge_target_file` is null, the active file pulls from its chain down to
 * `file_to_merge` (which becomes its new backing; null = flatten); otherwise `file_to_merge` is
 * committed into `merge_target_file` (block commit, top = file_to_merge, base = merge target).
 */
export const novaDeleteInfo = z.strictObject({
  type: z.literal('qcow2'),
  file_to_merge: volumeFileName.nullable(),
  merge_target_file: volumeFileName.nullable(),
  volume_id: uuid,
});
export type NovaDeleteInfo = z.infer<typeof novaDeleteInfo>;

export const mergeOperation = z.enum(['pull', 'commit', 'active_commit']);
export type MergeOperation = z.infer<typeof mergeOperation>;

/**
 * Our explicit merge plan. Chain names are listed from the active file down to the root, as the
 * live domain XML must show them before the job (`expected_chain`) and after it (`result_chain`).
 * - pull:          top = active file, base = the file that becomes its backing (null: flatten);
 * - commit:        top = an intermediate file merged into base (its backing); libvirt rebases
 *                  the file above top onto base (RELATIVE);
 * - active_commit: top = active file committed into base, then pivot: base becomes active.
 */
export const mergePlan = z.strictObject({
  operation_id: z.string().min(1).max(64),
  fencing_token: z.number().int().nonnegative(),
  volume_id: uuid,
  snapshot_id: uuid,
  operation: mergeOperation,
  top: volumeFileName,
  base: volumeFileName.nullable(),
  expected_chain: z.array(volumeFileName).min(1).max(200),
  result_chain: z.array(volumeFileName).min(1).max(200),
});
export type MergePlan = z.infer<typeof mergePlan>;

/** Our explicit create: the storage side already wrote `new_file` over the live top. */
export const snapshotCreatePlan = z.strictObject({
  operation_id: z.string().min(1).max(64),
  fencing_token: z.number().int().nonnegative(),
  volume_id: uuid,
  snapshot_id: uuid,
  new_file: volumeFileName,
  expected_top: volumeFileName,
  quiesce: z.enum(['require', 'prefer', 'off']).optional(),
});
export type SnapshotCreatePlan = z.infer<typeof snapshotCreatePlan>;

/** Status a coordinator reports for an operation (idempotent by operation_id). */
export const operationReport = z.strictObject({
  operation_id: z.string().min(1).max(64),
  fencing_token: z.number().int().nonnegative(),
  status: z.enum(['running', 'committed', 'completed', 'failed']),
  progress: z.number().min(0).max(100),
  active_file: volumeFileName.optional(),
  /** Format of active_file (the metadata API records it on the attachment with the file). */
  format: z.enum(['qcow2', 'raw']).optional(),
  quiesced: z.boolean().optional(),
  error: z.string().max(4000).optional(),
});
export type OperationReport = z.infer<typeof operationReport>;

/** Validate the chain a plan expects to see: top in it, base directly below top (commit). */
export function planIsCoherent(plan: MergePlan): string | null {
  const chain = plan.expected_chain;
  const at = chain.indexOf(plan.top);
  if (at < 0) return `top ${plan.top} is not in the expected chain`;
  if (plan.operation !== 'commit' && at !== 0) return `${plan.operation} needs top to be the active file`;
  if (plan.operation === 'commit' && at === 0) return 'commit of the active file must be active_commit';
  if (plan.base !== null && !chain.slice(at + 1).includes(plan.base)) return `base ${plan.base} is not below top`;
  if (plan.operation !== 'pull' && plan.base === null) return `${plan.operation} needs a base`;
  return null;
}

/** What the coordinator answers about one attached disk (GET/resize/source of /v1/instances/{uuid}/volumes/{id}/...). */
export interface DiskState {
  instance_uuid: string;
  volume_id: string;
  running: boolean;
  target: string;
  /** Bare names, active first (a stopped guest's definition usually names only the active file). */
  chain: (string | null)[];
  format: string | null;
  /**
   * The disk's virtual size as the RUNNING guest sees it (libvirt's block info from QEMU): what
   * settles an interrupted live extend. Null for a stopped guest, absent from older coordinators.
   */
  capacity_bytes?: number | null;
  /**
   * How long (ms, by the coordinator's clock, never overstated) an unplug of the disk has been
   * pending in the guest: gone from the persistent definition, still in the live XML. Null when
   * none is; absent from older coordinators.
   */
  unplug_pending_ms?: number | null;
}
