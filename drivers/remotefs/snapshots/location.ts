import type { ProgressPhase } from '../../contract/volume-driver.js';

/** Where a volume lives and the limits that apply to it. */
export interface VolumeLocation {
  /** Directory on the mounted share holding volume-<vid>* files. */
  dir: string;
  volumeId: string;
  /** Maximum number of files in the chain from the active file down to its base. */
  maxChainDepth: number;
  /** Mode of files created (default: as created, 0644 minus umask; info file 0640). */
  fileMode?: number;
  /** Owner to give created files (null/undefined: leave as created). */
  owner?: { uid: number; gid: number } | null;
  /** Seals frozen files' identities (../identity-seal.ts); none: this process's own key. */
  identityKey?: Buffer;
}

export interface SnapshotOpOptions {
  signal?: AbortSignal;
  onProgress?: (percent: number) => void;
  onPhase?: (phase: ProgressPhase) => void;
}
