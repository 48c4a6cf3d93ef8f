/**
 * Block jobs: commit, pull, rebase, progress and abort/pivot. Offsets and bandwidth are 64-bit
 * on the wire and stay bigint here: a job over a multi-terabyte disk must report exact progress.
 */
import { writeDomainRef, type DomainRef } from '../domain-ref.js';
import { RemoteProc } from '../protocol.js';
import type { RpcConnection } from '../transport/connection.js';
import type { XdrWriter } from '../xdr.js';
import { invoke, invokeVoid } from './invoke.js';

export interface BlockCommitOptions {
  /** Target of the merge; null = the bottom of the chain. */
  base?: string | null;
  /** Top of the range to merge; null = the active layer (needs BlockCommitFlags.ACTIVE). */
  top?: string | null;
  /** MiB/s, or bytes/s with the BANDWIDTH_BYTES flag; 0 = unlimited. */
  bandwidth?: bigint;
  flags?: number;
}

function optString(w: XdrWriter, value: string | null | undefined): void {
  w.optional(value ?? null, (x, v) => x.string(v));
}

export function blockCommit(rpc: RpcConnection, dom: DomainRef, disk: string, options: BlockCommitOptions = {}): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_BLOCK_COMMIT, name: 'DOMAIN_BLOCK_COMMIT' }, (w) => {
    writeDomainRef(w, dom);
    w.string(disk);
    optString(w, options.base);
    optString(w, options.top);
    w.uhyper(options.bandwidth ?? 0n).uint(options.flags ?? 0);
  });
}

export interface BlockRebaseOptions {
  /** New backing file of the active layer after the pull; null = pull everything (no backing). */
  base?: string | null;
  bandwidth?: bigint;
  flags?: number;
}

/** Pull the data of the layers above `base` into the active layer (blockRebase without COPY). */
export function blockRebase(rpc: RpcConnection, dom: DomainRef, disk: string, options: BlockRebaseOptions = {}): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_BLOCK_REBASE, name: 'DOMAIN_BLOCK_REBASE' }, (w) => {
    writeDomainRef(w, dom);
    w.string(disk);
    optString(w, options.base);
    w.uhyper(options.bandwidth ?? 0n).uint(options.flags ?? 0);
  });
}

/** Pull the whole backing chain into the active layer. */
export function blockPull(rpc: RpcConnection, dom: DomainRef, disk: string, bandwidth = 0n, flags = 0): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_BLOCK_PULL, name: 'DOMAIN_BLOCK_PULL' },
    (w) => { writeDomainRef(w, dom); w.string(disk).uhyper(bandwidth).uint(flags); });
}

export interface BlockJobInfo {
  /** A BlockJobType value. */
  type: number;
  bandwidth: bigint;
  cur: bigint;
  end: bigint;
}

/** The job on `disk`, or null when there is none. */
export function getBlockJobInfo(rpc: RpcConnection, dom: DomainRef, disk: string, flags = 0): Promise<BlockJobInfo | null> {
  return invoke(rpc, { number: RemoteProc.DOMAIN_GET_BLOCK_JOB_INFO, name: 'DOMAIN_GET_BLOCK_JOB_INFO' },
    (w) => { writeDomainRef(w, dom); w.string(disk).uint(flags); },
    (r) => {
      const found = r.int();
      const info = { type: r.int(), bandwidth: r.uhyper(), cur: r.uhyper(), end: r.uhyper() };
      return found === 1 ? info : null;
    });
}

/** Cancel a job, or with BlockJobAbortFlags.PIVOT switch the disk to the job's target. */
export function blockJobAbort(rpc: RpcConnection, dom: DomainRef, disk: string, flags = 0): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_BLOCK_JOB_ABORT, name: 'DOMAIN_BLOCK_JOB_ABORT' },
    (w) => { writeDomainRef(w, dom); w.string(disk).uint(flags); });
}
