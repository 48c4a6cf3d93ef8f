/**
 * The storage service's calls to a compute coordinator's checkpoint routes
 * (coordinator/checkpoint/routes.ts): the address and credential come from the registry of
 * compute hosts (coordinatorOf), never from a request. secureFetch never follows a redirect, so
 * the credential only goes to the registered endpoint. The coordinator answers when the work is
 * done, so the time-out is long; the storage side runs these calls in the background.
 */
import { StorageError, isStorageError } from '../../../../lib/core/errors.js';
import { coordinatorCall } from '../../../../lib/protocol/coordinator-call.js';
import type { ServiceDeps } from '../../context.js';
import { coordinatorTls } from '../../coordinator-tls.js';
import { coordinatorOf } from '../compute-hosts.js';

/** What the coordinator answers of a checkpoint (coordinator/checkpoint/record.ts), as far as the service reads it. */
export interface CoordinatorCheckpoint {
  id: string;
  mode: string;
  status: string;
  memorySize: number;
  definitionSha256: string;
  /** snapshotId: the volume's own snapshot that owns the snapshot point (when the host recorded it through the metadata API). */
  volumes: { volumeId: string; target: string; snapshotPoint: string; sizeBytes: number; snapshotId?: string }[];
}

/** What the coordinator answers of a checkpoint's latest job (coordinator/checkpoint/job-record.ts). */
export interface CoordinatorJob {
  op: 'take' | 'revert' | 'delete';
  state: 'running' | 'succeeded' | 'failed';
  progress: number;
  error?: string;
  detachedVolumes?: string[];
}

const CALL_TIMEOUT_MS = 30 * 60_000;
/** A question about a checkpoint's state (not a piece of work) gets a short time-out. */
const QUERY_TIMEOUT_MS = 30_000;

async function call(deps: ServiceDeps, hostName: string, method: string, pathname: string, body?: unknown, timeoutMs = CALL_TIMEOUT_MS): Promise<Record<string, unknown>> {
  const address = await coordinatorOf(deps, hostName);
  const tls = coordinatorTls(deps.config.api);
  return coordinatorCall({
    endpoint: address.endpoint, token: address.credential, ...(tls ? { tls } : {}), method, pathname, body, timeoutMs,
    label: `coordinator of ${hostName}`, details: { host_name: hostName },
    // The coordinator's own stable codes (CHECKPOINT_UNMANAGED_DISK, ...) are kept; another is the host's failure.
    unknownCode: 'COORDINATOR_UNAVAILABLE',
  });
}

function checkpointOf(answer: Record<string, unknown>, hostName: string): CoordinatorCheckpoint {
  const c = answer?.checkpoint as Partial<CoordinatorCheckpoint> | undefined;
  if (!c || typeof c.id !== 'string' || !Array.isArray(c.volumes)) {
    throw new StorageError('COORDINATOR_UNAVAILABLE', `coordinator of ${hostName} answered without a checkpoint record`, { details: { host_name: hostName } });
  }
  return c as CoordinatorCheckpoint;
}

const base = (instanceUuid: string) => `/v1/instances/${encodeURIComponent(instanceUuid)}/checkpoints`;

export async function takeOnHost(deps: ServiceDeps, hostName: string, instanceUuid: string, body: { id: string; name?: string; description?: string; mode?: string; exclude?: string[] }): Promise<CoordinatorCheckpoint> {
  return checkpointOf(await call(deps, hostName, 'POST', base(instanceUuid), body), hostName);
}

export async function revertOnHost(
  deps: ServiceDeps, hostName: string, instanceUuid: string, id: string, paused: boolean | undefined, overlays?: { volume_id: string; file: string }[],
): Promise<{ checkpoint: CoordinatorCheckpoint; detachedVolumes: unknown }> {
  const body = { ...(paused === undefined ? {} : { paused }), ...(overlays ? { overlays } : {}) };
  const answer = await call(deps, hostName, 'POST', `${base(instanceUuid)}/${encodeURIComponent(id)}/revert`, body);
  return { checkpoint: checkpointOf(answer, hostName), detachedVolumes: answer?.detached_volumes ?? [] };
}

export async function deleteOnHost(deps: ServiceDeps, hostName: string, instanceUuid: string, id: string): Promise<void> {
  await call(deps, hostName, 'DELETE', `${base(instanceUuid)}/${encodeURIComponent(id)}`);
}

/** null when the host answers 404 (no such checkpoint or job). */
async function queryOrAbsent(deps: ServiceDeps, hostName: string, pathname: string): Promise<Record<string, unknown> | 'absent'> {
  try {
    return await call(deps, hostName, 'GET', pathname, undefined, QUERY_TIMEOUT_MS);
  } catch (err) {
    if (isStorageError(err, 'NOT_FOUND')) return 'absent';
    throw err;
  }
}

function jobOf(answer: Record<string, unknown>, hostName: string): CoordinatorJob {
  const j = answer?.job as Partial<CoordinatorJob> | undefined;
  if (!j || !['take', 'revert', 'delete'].includes(j.op as string) || !['running', 'succeeded', 'failed'].includes(j.state as string) || typeof j.progress !== 'number') {
    throw new StorageError('COORDINATOR_UNAVAILABLE', `coordinator of ${hostName} answered without a job record`, { details: { host_name: hostName } });
  }
  return {
    op: j.op as CoordinatorJob['op'], state: j.state as CoordinatorJob['state'], progress: Math.max(0, Math.min(100, Math.floor(j.progress))),
    ...(typeof j.error === 'string' ? { error: j.error.slice(0, 1000) } : {}),
    ...(Array.isArray(j.detachedVolumes) ? { detachedVolumes: j.detachedVolumes.filter((v): v is string => typeof v === 'string') } : {}),
  };
}

/** The latest job of a checkpoint on its host; null when the host has none (never reached it). */
export async function jobOnHost(deps: ServiceDeps, hostName: string, instanceUuid: string, id: string): Promise<CoordinatorJob | null> {
  const answer = await queryOrAbsent(deps, hostName, `${base(instanceUuid)}/${encodeURIComponent(id)}/job`);
  return answer === 'absent' ? null : jobOf(answer, hostName);
}

/** The checkpoint's record on its host; null when the host has none. */
export async function checkpointOnHost(deps: ServiceDeps, hostName: string, instanceUuid: string, id: string): Promise<CoordinatorCheckpoint | null> {
  const answer = await queryOrAbsent(deps, hostName, `${base(instanceUuid)}/${encodeURIComponent(id)}`);
  return answer === 'absent' ? null : checkpointOf(answer, hostName);
}

/** Whether a host has the instance (coordinator/checkpoint/host-release.ts). */
export interface HostPresence {
  present: boolean;
  active: boolean;
  disks: { target: string; file: string | null }[];
}

function presenceOfAnswer(answer: unknown, hostName: string): HostPresence {
  const p = answer as Partial<HostPresence> | undefined;
  if (!p || typeof p.present !== 'boolean' || typeof p.active !== 'boolean' || !Array.isArray(p.disks)) {
    throw new StorageError('COORDINATOR_UNAVAILABLE', `coordinator of ${hostName} answered without the instance's presence`, { details: { host_name: hostName } });
  }
  return { present: p.present, active: p.active, disks: p.disks };
}

const instancePath = (instanceUuid: string) => `/v1/instances/${encodeURIComponent(instanceUuid)}`;

/** Whether `hostName`'s libvirt has the instance, and on which files. */
export async function presenceOnHost(deps: ServiceDeps, hostName: string, instanceUuid: string): Promise<HostPresence> {
  const answer = await call(deps, hostName, 'GET', `${instancePath(instanceUuid)}/presence`, undefined, QUERY_TIMEOUT_MS);
  return presenceOfAnswer(answer?.instance, hostName);
}

/** Stop (destroy) and undefine the instance on `hostName`, its files kept; answers what was there. */
export async function releaseOnHost(deps: ServiceDeps, hostName: string, instanceUuid: string): Promise<HostPresence> {
  const answer = await call(deps, hostName, 'POST', `${instancePath(instanceUuid)}/release`, {}, QUERY_TIMEOUT_MS * 4);
  return presenceOfAnswer(answer?.released, hostName);
}
