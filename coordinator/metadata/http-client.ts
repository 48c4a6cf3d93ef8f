/**
 * The metadata API over HTTP (global fetch), matching src/api's routes:
 *   POST /v3/volumes/{volume_id}/action     {"os-create_snapshot_metadata": {name}}
 *        → 202 {snapshot_metadata: {snapshot_id, new_file, operation_id, fencing_token, ...}}
 *   POST /v3/snapshots/{snapshot_id}/action {"os-request_commit": {operation_id, fencing_token}}
 *                                           {"os-update_snapshot_status": OperationReport}
 *                                           {"os-finalize_snapshot_metadata": {..., status: "error"}}
 * A final report (completed | failed) finalizes the snapshot on the storage side. Nova's dialect
 * reports in Cinder's form {status, progress: "NN%"}. Authenticated with the coordinator's service
 * token (X-Auth-Token). Faults come in OpenStack's shape {"<fault>": {code, error_code, message}};
 * a 409 at the commit point (abandoned operation, stale fencing token) is COMMIT_POINT_REFUSED.
 */
import type { OperationReport } from '../../lib/protocol/assisted-snapshot.js';
import { StorageError } from '../../lib/core/errors.js';
import { storageFetch } from '../http/storage-fetch.js';
import type { CreatedSnapshotMetadata, FinalizeRequest, MetadataApi, ReportTarget, SnapshotMetadataRequest } from './api.js';
import { requestIdHeaders } from '../../lib/core/request-context.js';

export interface HttpMetadataOptions {
  baseUrl: string;
  token: string;
  timeoutMs: number;
  /** CA bundle of an https storage API (coordinator.metadataCaFile). */
  caFile?: string;
}

type Fault = { error_code?: string; code?: string | number; message?: string };

/** Nova's dialect speaks Cinder's statuses; progress is a real percentage, never a fixed 90%. */
function novaStatus(kind: ReportTarget['kind'], r: OperationReport): { status: string; progress: string } {
  const progress = `${Math.floor(r.progress)}%`;
  if (r.status === 'failed') return { status: kind === 'create' ? 'error' : 'error_deleting', progress };
  if (kind === 'create') return { status: r.status === 'completed' ? 'available' : 'creating', progress };
  return { status: 'deleting', progress };
}

export class HttpMetadataClient implements MetadataApi {
  constructor(private readonly options: HttpMetadataOptions) {}

  private async post(pathname: string, body: unknown): Promise<unknown> {
    const url = new URL(pathname, this.options.baseUrl);
    let res: Response;
    try {
      // The service token goes to the configured storage API only (no redirect is followed).
      res = await storageFetch(url, {
        method: 'POST',
        // The request id this work serves (the storage service's own, passed in): one id in both logs.
        headers: { 'content-type': 'application/json', 'x-auth-token': this.options.token, ...requestIdHeaders() },
        body: JSON.stringify(body),
        timeoutMs: this.options.timeoutMs,
        ...(this.options.caFile ? { caFile: this.options.caFile } : {}),
      });
    } catch (err) {
      throw new StorageError('METADATA_API_UNAVAILABLE', `metadata API ${url.pathname} unreachable: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : {};
    if (!res.ok) throw this.apiError(res.status, pathname, Object.values(parsed as Record<string, Fault>)[0] ?? {});
    return parsed;
  }

  private apiError(status: number, pathname: string, fault: Fault): StorageError {
    const code = fault.error_code ?? (typeof fault.code === 'string' ? fault.code : undefined);
    const message = fault.message ?? `HTTP ${status}`;
    const details = { status, apiCode: code, path: pathname };
    if (status === 409) return new StorageError('COMMIT_POINT_REFUSED', `metadata API refused: ${message}`, { details });
    if (status === 404) return new StorageError('NOT_FOUND', `metadata API: ${message}`, { details });
    return new StorageError(status === 401 || status === 403 ? 'FORBIDDEN' : 'INTERNAL', `metadata API ${pathname}: ${message}`, { details });
  }

  async createSnapshotMetadata(volumeId: string, request: SnapshotMetadataRequest): Promise<CreatedSnapshotMetadata> {
    const out = (await this.post(`/v3/volumes/${volumeId}/action`, {
      'os-create_snapshot_metadata': { name: request.name, ...(request.metadata ? { metadata: request.metadata } : {}) },
    })) as { snapshot_metadata?: { snapshot_id?: string; new_file?: string; operation_id?: string; fencing_token?: number; lease_expires_at?: string | null } };
    const s = out.snapshot_metadata;
    if (!s?.snapshot_id || !s.new_file || !s.operation_id || typeof s.fencing_token !== 'number') {
      throw new StorageError('INTERNAL', 'os-create_snapshot_metadata answered without snapshot_id, new_file, operation_id, fencing_token');
    }
    // A hint only (another host's clock): how often a long step renews the lease.
    const expires = typeof s.lease_expires_at === 'string' ? Date.parse(s.lease_expires_at) : Number.NaN;
    return { snapshotId: s.snapshot_id, newFile: s.new_file, operationId: s.operation_id, fencingToken: s.fencing_token, ...(Number.isFinite(expires) ? { leaseExpiresAt: expires } : {}) };
  }

  async permit(snapshotId: string, operationId: string, fencingToken: number): Promise<void> {
    await this.post(`/v3/snapshots/${snapshotId}/action`, { 'os-request_commit': { operation_id: operationId, fencing_token: fencingToken } });
  }

  async report(target: ReportTarget, report: OperationReport): Promise<void> {
    const body = target.dialect === 'nova' ? novaStatus(target.kind, report) : report;
    await this.post(`/v3/snapshots/${target.snapshotId}/action`, { 'os-update_snapshot_status': body });
  }

  async finalizeSnapshotMetadata(snapshotId: string, r: FinalizeRequest): Promise<void> {
    await this.post(`/v3/snapshots/${snapshotId}/action`, {
      'os-finalize_snapshot_metadata': {
        operation_id: r.operationId, fencing_token: r.fencingToken, status: r.status,
        active_file: r.activeFile, format: r.format, error: r.error,
      },
    });
  }
}
