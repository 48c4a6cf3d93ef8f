/**
 * Where an instance import puts each volume (issue 15 item 4): an operator moving an environment
 * chooses a share per volume (capacity, tiers), as Cinder lets one choose a backend per volume.
 * `map` names archived volume ids; a volume it does not name, and the instance's own directory
 * (its checkpoints' memory files, saved definitions and records, the imported definition), go to
 * the default share: the compute hosts read checkpoints from one share (the coordinator's
 * checkpointDir), so the instance's directory stays where the operator's `share` says.
 *
 * Pure: the plan, with every refusal, before the caller records an intent or writes a file.
 */
import { StorageError } from '../../../lib/core/errors.js';

export interface SharePlanInput {
  /** The archive's volumes: archived id and the bytes of its files. */
  volumes: readonly { id: string; bytes: number }[];
  /** Bytes of the instance's own files (memory, NVRAM, TPM state). */
  instanceBytes: number;
  /** Archived volume id -> share address, as the caller asked. */
  map: Readonly<Record<string, string>>;
  /** The configured shares' addresses. */
  configured: readonly string[];
}

export interface SharePlan {
  /** Archived volume id -> the share address it was mapped to, or null for the default share. */
  volumeShare: ReadonlyMap<string, string | null>;
  /** Bytes each target will receive (null: the default share), for the room checks. */
  bytes: ReadonlyMap<string | null, number>;
}

function invalid(message: string, details: Record<string, unknown>): StorageError {
  return new StorageError('IMPORT_SHARE_MAP_INVALID', message, { details });
}

export function planShares(input: SharePlanInput): SharePlan {
  const carried = new Set(input.volumes.map((v) => v.id));
  for (const [id, address] of Object.entries(input.map)) {
    if (!carried.has(id)) throw invalid(`volume_share names volume ${id}, which the archive does not carry`, { reason: 'unknown_volume', volume_id: id });
    if (!input.configured.includes(address)) throw invalid(`volume_share maps volume ${id} to ${address}, which is not a configured share`, { reason: 'unknown_share', volume_id: id, share: address });
  }
  const volumeShare = new Map<string, string | null>();
  const bytes = new Map<string | null, number>([[null, input.instanceBytes]]);
  for (const v of input.volumes) {
    const to = Object.hasOwn(input.map, v.id) ? input.map[v.id] as string : null;
    volumeShare.set(v.id, to);
    bytes.set(to, (bytes.get(to) ?? 0) + v.bytes);
  }
  return { volumeShare, bytes };
}
