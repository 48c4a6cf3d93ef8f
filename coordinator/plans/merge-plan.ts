/**
 * Merge plans against the live chain. The storage side decides which files merge and how; the
 * coordinator only checks that the plan describes the chain the guest really has, and that the
 * chain it promises afterwards is what the operation produces. Chains are bare names, active first.
 *
 *   pull           [A, S2, S1, R] top=A base=S1  →  [A, S1, R]     (S2's data copied up into A)
 *   commit         [A, S2, S1, R] top=S2 base=S1 →  [A, S1, R]     (S2 written into S1, A rebased)
 *   active_commit  [A, S2, S1, R] top=A base=S2  →  [S2, S1, R]    (A written into S2, then pivot)
 */
import { planIsCoherent, type MergePlan, type NovaDeleteInfo } from '../../lib/protocol/assisted-snapshot.js';
import { StorageError } from '../../lib/core/errors.js';
import { chainNames, type LiveDisk } from '../domain/disks.js';
import { fileBacked } from '../domain/file-backed.js';

function mismatch(message: string, details: Record<string, unknown> = {}): StorageError {
  return new StorageError('PLAN_MISMATCH', message, { details });
}

/** The chain a coherent plan leaves behind. */
export function resultChainOf(plan: Pick<MergePlan, 'operation' | 'top' | 'base' | 'expected_chain'>): string[] {
  const chain = plan.expected_chain;
  const at = chain.indexOf(plan.top);
  const below = plan.base === null ? [] : chain.slice(chain.indexOf(plan.base));
  switch (plan.operation) {
    case 'pull': return [plan.top, ...below];
    case 'commit': return [...chain.slice(0, at), ...below];
    case 'active_commit': return below;
  }
}

function sameChain(a: readonly (string | null)[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Refuse (PLAN_MISMATCH) unless the plan is coherent and its expected chain is the live one. */
export function validateMergePlan(plan: MergePlan, disk: LiveDisk): { dir: string } {
  const incoherent = planIsCoherent(plan);
  if (incoherent) throw mismatch(`incoherent plan: ${incoherent}`, { plan });
  const result = resultChainOf(plan);
  if (!sameChain(plan.result_chain, result)) {
    throw mismatch(`result_chain ${plan.result_chain.join(' ← ')} is not what ${plan.operation} produces (${result.join(' ← ')})`);
  }
  const fb = fileBacked(disk, plan.volume_id);
  if (!fb.ok) throw mismatch(`disk ${disk.target} cannot be merged: ${fb.reason}`);
  if (disk.mirror) throw new StorageError('CONFLICT', `disk ${disk.target} already has a block job (${disk.mirror.job})`);
  const live = chainNames(disk);
  if (!sameChain(live, plan.expected_chain)) {
    throw mismatch('the live chain differs from the plan', { live, expected: plan.expected_chain });
  }
  return { dir: fb.dir };
}

/**
 * Nova's delete_info, with Nova's meaning, as an explicit plan over the live chain:
 * merge_target_file null → pull into the active file down to file_to_merge (null: flatten);
 * otherwise commit file_to_merge into merge_target_file (active commit when it is the top).
 */
export function planFromNovaDelete(info: NovaDeleteInfo, snapshotId: string, disk: LiveDisk): MergePlan {
  const live = chainNames(disk);
  if (live.some((n) => n === null)) throw mismatch(`disk ${disk.target} has a layer that is not a file`);
  const chain = live as string[];
  const active = chain[0] as string;
  const pull = info.merge_target_file === null;
  const top = pull ? active : info.file_to_merge;
  if (top === null) throw mismatch('delete_info with merge_target_file set needs file_to_merge');
  const base = pull ? info.file_to_merge : info.merge_target_file;
  const operation = pull ? 'pull' : top === active ? 'active_commit' : 'commit';
  const partial = { operation, top, base, expected_chain: chain } as const;
  if (!chain.includes(top) || (base !== null && !chain.includes(base))) {
    throw mismatch('delete_info names a file that is not in the live chain', { live: chain, top, base });
  }
  return {
    operation_id: `nova-delete-${snapshotId}`,
    fencing_token: 0,
    volume_id: info.volume_id,
    snapshot_id: snapshotId,
    ...partial,
    result_chain: resultChainOf(partial),
  };
}
