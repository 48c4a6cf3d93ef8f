/**
 * A coordinator's answer to `GET /v1/instances/{uuid}/volumes/{volume_id}` (coordinator/attach/
 * attach-state.ts): where the domain has the volume's disk, and whether an attach or detach of it
 * runs on that host now. The storage side settles an attachment left `attaching` from it
 * (src/api/usecases/attachments/settle-attaching.ts), so it is hostile input there: checked by
 * parseAttachState before anything is decided.
 */
import { StorageError } from '../core/errors.js';

export interface PluggedDisk {
  target: string;
  /** Bare file name the disk opens (its active file), or null when the domain names none. */
  file: string | null;
}

export interface AttachState {
  instance_uuid: string;
  volume_id: string;
  /** False: the host has no such domain (its guest cannot have the disk). */
  domain: boolean;
  /** The domain runs a QEMU (running or paused): it has a live XML. */
  active: boolean;
  /** An attach or detach of the volume to this instance runs in the coordinator now. */
  in_progress: boolean;
  /** The disk in the active guest (live XML); null when absent or the guest is shut off. */
  live: PluggedDisk | null;
  /** The disk in the persistent definition (what the next boot opens); null when absent. */
  persistent: PluggedDisk | null;
}

function diskOf(v: unknown): PluggedDisk | null | undefined {
  if (v === null) return null;
  if (typeof v !== 'object') return undefined;
  const d = v as Record<string, unknown>;
  if (typeof d.target !== 'string' || !(d.file === null || typeof d.file === 'string')) return undefined;
  return { target: d.target, file: d.file };
}

/** The answer's attach_state, checked field by field; COORDINATOR_UNAVAILABLE when it is not one (nothing is decided from it). */
export function parseAttachState(answer: Record<string, unknown>, hostName: string): AttachState {
  const s = answer.attach_state as Record<string, unknown> | undefined;
  const live = diskOf(s?.live);
  const persistent = diskOf(s?.persistent);
  if (!s || typeof s.domain !== 'boolean' || typeof s.active !== 'boolean' || typeof s.in_progress !== 'boolean' || live === undefined || persistent === undefined) {
    throw new StorageError('COORDINATOR_UNAVAILABLE', `coordinator of ${hostName} answered without an attach state`, { details: { host_name: hostName } });
  }
  return {
    instance_uuid: String(s.instance_uuid), volume_id: String(s.volume_id), domain: s.domain, active: s.active, in_progress: s.in_progress, live, persistent,
  };
}
