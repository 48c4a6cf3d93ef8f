/**
 * The storage service's calls to a compute coordinator's checkpoint routes
 * (coordinator/checkpoint/routes.ts): the address and credential come from the registry of
 * compute hosts (coordinatorOf), never from a request. secureFetch never follows a redirect, so
 * the credential only goes to the registered endpoint. The coordinator answers when the work is
 * done, so the time-out is long; the storage side runs these calls in the background.
 */
import { ERROR_CODES, StorageError, isStorageError, type ErrorCode } from '../../../../lib/core/errors.js';
import { requestIdHeaders } from '../../../../lib/core/request-context.js';
import { secureFetch } from '../../../../lib/core/secure-fetch.js';
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
  volumes: { volumeId: string; target: string; snapshotPoint: string; sizeBytes: number }[];
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

async function call(deps: ServiceDeps, hostName: string, method: string, pathname: string, body?: unknown, timeoutMs = CALL_TIMEOUT_MS): Promise<Record<string, unknown> | null> {
  const address = await coordinatorOf(deps, hostName);
  const tls = coordinatorTls(deps.config.api);
  const url = new URL(pathname, address.endpoint);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  let res: Response;
  try {
    res = await secureFetch(url, {
      method, headers: { 'content-type': 'application/json', 'x-auth-token': address.credential, ...requestIdHeaders() },
      ...(payload === undefined ? {} : { body: payload }), timeoutMs, ...(tls ? { tls } : {}),
    });
  } catch (err) {
    throw new StorageError('COORDINATOR_UNAVAILABLE', `coordinator of ${hostName} unreachable (${method} ${url.pathname}): ${(err as Error).message}`, { cause: err, details: { host_name: hostName } });
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let parsed: Record<string, unknown> | null = null;
  try {
    const v = JSON.parse(text) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) parsed = v as Record<string, unknown>;
  } catch { /* handled below */ }
  if (parsed === null) {
    throw new StorageError('COORDINATOR_UNAVAILABLE', `coordinator of ${hostName} answered ${method} ${url.pathname} (HTTP ${res.status}) with no JSON object`, { details: { host_name: hostName, status: res.status } });
  }
  if (!res.ok) {
    // The coordinator's own stable code when it gave one (CHECKPOINT_UNMANAGED_DISK, ...).
    const e = (parsed.error ?? {}) as { code?: string; message?: string };
    const code: ErrorCode = typeof e.code === 'string' && isKnownCode(e.code) ? e.code : 'COORDINATOR_UNAVAILABLE';
    throw new StorageError(code, `coordinator of ${hostName}: ${typeof e.message === 'string' ? e.message.slice(0, 500) : `HTTP ${res.status}`}`, { details: { host_name: hostName, status: res.status, refused: true } });
  }
  return parsed;
}

function isKnownCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

function checkpointOf(answer: Record<string, unknown> | null, hostName: string): CoordinatorCheckpoint {
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

export async function revertOnHost(deps: ServiceDeps, hostName: string, instanceUuid: string, id: string, paused: boolean | undefined): Promise<{ checkpoint: CoordinatorCheckpoint; detachedVolumes: unknown }> {
  const answer = await call(deps, hostName, 'POST', `${base(instanceUuid)}/${encodeURIComponent(id)}/revert`, paused === undefined ? {} : { paused });
  return { checkpoint: checkpointOf(answer, hostName), detachedVolumes: answer?.detached_volumes ?? [] };
}

export async function deleteOnHost(deps: ServiceDeps, hostName: string, instanceUuid: string, id: string): Promise<void> {
  await call(deps, hostName, 'DELETE', `${base(instanceUuid)}/${encodeURIComponent(id)}`);
}

/** null when the host answers 404 (no such checkpoint or job). */
async function queryOrAbsent(deps: ServiceDeps, hostName: string, pathname: string): Promise<Record<string, unknown> | null | 'absent'> {
  try {
    return await call(deps, hostName, 'GET', pathname, undefined, QUERY_TIMEOUT_MS);
  } catch (err) {
    if (isStorageError(err, 'NOT_FOUND')) return 'absent';
    throw err;
  }
}

function jobOf(answer: Record<string, unknown> | null, hostName: string): CoordinatorJob {
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
