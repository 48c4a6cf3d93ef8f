/**
 * What the snapshot engine needs from the compute host of an ATTACHED volume (the driver
 * implements it over HTTP with the coordinator; tests with fakes). The engine decides what
 * changes in the tree; the host changes what the guest opens.
 */
import type { VolumeTree } from '../info-file.js';

/** One live merge as the coordinator executes it (chains are bare names, active first): declared with the merge intent that records it. */
export type { LiveMergeStep } from '../intents.js';
import type { LiveMergeStep } from '../intents.js';

export interface AttachedHost {
  /** The guest runs: chain changes are live (snapshots, block jobs); otherwise qemu-img here. */
  running: boolean;
  /**
   * Run a merge on the running guest. 'completed': the guest's chain is result_chain;
   * 'unchanged': the job ended and the chain is still expected_chain. Throws when the outcome
   * is unknown (host unreachable): the caller keeps its intent.
   */
  merge(step: LiveMergeStep): Promise<'completed' | 'unchanged'>;
  /** Stopped guest: its persistent definition names `file` instead of `expected` (idempotent). */
  switchSource(file: string, format: 'qcow2' | 'raw', expected: string): Promise<void>;
}

/** The files the guest opens, active first, from the tree (no header is read). */
export function activeChain(tree: VolumeTree): string[] {
  const chain: string[] = [];
  const seen = new Set<string>();
  for (let f: string | null = tree.active; f !== null && !seen.has(f); f = tree.files[f]?.backing ?? null) {
    seen.add(f);
    chain.push(f);
  }
  return chain;
}
