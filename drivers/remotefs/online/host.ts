/**
 * The compute host of an attached volume, as the snapshot engine sees it (AttachedHost), over
 * the coordinator named by the attachment. Merges are sent as explicit MergePlans (the engine
 * decided the direction); the operation id and fencing token are the storage operation's own,
 * so the coordinator's commit-point request is checked against the volume's lease.
 */
import type { MergePlan } from '../../../lib/protocol/assisted-snapshot.js';
import { StorageError } from '../../../lib/core/errors.js';
import type { AttachmentRef } from '../../contract/volume-driver.js';
import type { AttachedHost, LiveMergeStep } from '../snapshots/attached-host.js';
import { isRefusal, type CoordinatorClient, type DiskState } from './coordinator-client.js';
import type { OperationIds } from './operation-ids.js';

function same(a: readonly (string | null)[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class CoordinatorHost implements AttachedHost {
  constructor(
    private readonly client: CoordinatorClient,
    private readonly att: AttachmentRef,
    private readonly volumeId: string,
    private readonly ids: OperationIds,
    readonly running: boolean,
    private readonly wait: { signal?: AbortSignal; onProgress?: (p: number) => void } = {},
  ) {}

  static async open(client: CoordinatorClient, att: AttachmentRef, volumeId: string, ids: OperationIds, wait: CoordinatorHost['wait'] = {}): Promise<CoordinatorHost> {
    const disk = await client.disk(att.instanceUuid, volumeId);
    return new CoordinatorHost(client, att, volumeId, ids, disk.running, wait);
  }

  disk(): Promise<DiskState> {
    return this.client.disk(this.att.instanceUuid, this.volumeId);
  }

  async merge(step: LiveMergeStep): Promise<'completed' | 'unchanged'> {
    const live = (await this.disk()).chain;
    if (same(live, step.result_chain)) return 'completed'; // a resent step that already ran
    const plan: MergePlan = {
      operation_id: this.ids.next(), fencing_token: this.ids.fencingToken, volume_id: this.volumeId, snapshot_id: step.snapshotId,
      operation: step.operation, top: step.top, base: step.base, expected_chain: step.expected_chain, result_chain: step.result_chain,
    };
    const job = await this.client.waitJob((await this.client.submitMerge(plan)).id, this.wait.signal, this.wait.onProgress);
    if (job.state === 'completed') return 'completed';
    // The job says failed: the live chain is the authority on what happened.
    const after = (await this.disk()).chain;
    if (same(after, step.result_chain)) return 'completed';
    if (same(after, step.expected_chain)) return 'unchanged';
    throw new StorageError('BLOCK_JOB_FAILED', `live ${step.operation} ended ${job.state} with the chain ${after.join(' <- ')}`, {
      details: { job: job.id, error: job.error, live: after },
    });
  }

  async switchSource(file: string, format: 'qcow2' | 'raw', expected: string): Promise<void> {
    await this.client.setSource(this.att.instanceUuid, this.volumeId, { file, format, expected_file: expected });
  }

  async resize(bytes: number): Promise<void> {
    await this.client.resize(this.att.instanceUuid, this.volumeId, bytes);
  }
}

export { isRefusal };
