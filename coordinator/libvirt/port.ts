/**
 * The narrow slice of libvirt the coordinator uses (VDSM's style): domains by UUID, the live XML,
 * one snapshot call, the block-job calls, freeze/thaw, an agent ping and block-job events. Unit
 * tests implement it with a fake domain driven by XML documents; production wraps lib/libvirt.
 */
export interface BlockJobProgress {
  /** A BlockJobType value. */
  type: number;
  cur: bigint;
  end: bigint;
}

export interface BlockJobHint {
  domainUuid: string;
  target: string;
  /** A BlockJobStatus value (COMPLETED, FAILED, CANCELED, READY). */
  status: number;
}

export interface LibvirtPort {
  /** UUIDs of the running domains (Nova's requests name a volume, not an instance). */
  runningDomains(): Promise<string[]>;
  /** The live XML of a running domain (throws NOT_FOUND when there is no such domain). */
  domainXml(uuid: string): Promise<string>;
  snapshotCreate(uuid: string, xml: string, flags: number): Promise<void>;
  /** blockCommit: top null = the active layer (with ACTIVE in flags); bandwidth in MiB/s, 0 = unlimited. */
  blockCommit(uuid: string, target: string, top: string | null, base: string, flags: number, bandwidthMiBps?: number): Promise<void>;
  /** blockRebase without COPY: pull the layers above `base` into the active one (null: all). */
  blockPull(uuid: string, target: string, base: string | null, flags: number, bandwidthMiBps?: number): Promise<void>;
  blockJobInfo(uuid: string, target: string): Promise<BlockJobProgress | null>;
  /** blockJobAbort with PIVOT. */
  pivot(uuid: string, target: string): Promise<void>;
  /** blockJobAbort without flags (cancel). */
  abortJob(uuid: string, target: string): Promise<void>;
  /** guest-ping through the agent; throws when no agent answers within `timeoutSeconds`. */
  agentPing(uuid: string, timeoutSeconds: number): Promise<void>;
  fsFreeze(uuid: string): Promise<number>;
  /** On a connection of its own, so a thaw never queues behind other calls. */
  fsThaw(uuid: string): Promise<number>;
  /** Block-job events (hints only). Returns an unsubscribe function. */
  onBlockJob(listener: (hint: BlockJobHint) => void): () => void;
  close(): Promise<void>;
}
