/**
 * The storage service's volume actions that attach and detach use (src/api routes):
 *   POST /v3/volumes/{id}/action {"os-initialize_connection": {connector}} → {connection_info}
 *                                {"os-attach": {instance_uuid, mountpoint, host_name,
 *                                   active_file, format}}  (no endpoint: the registry has it)
 *                                {"os-detach": {}}   {"os-terminate_connection": {connector}}
 * Authenticated with the coordinator's outbound service token (coordinator.serviceToken); faults keep the API's own error code.
 */
import { ERROR_CODES, StorageError, type ErrorCode } from '../../lib/core/errors.js';
import { storageFetch } from '../http/storage-fetch.js';
import type { ShareConnection } from './mounts.js';
import { requestIdHeaders } from '../../lib/core/request-context.js';

export interface AttachRecord {
  instanceUuid: string;
  mountpoint: string;
  hostName: string;
  activeFile: string;
  format: 'qcow2' | 'raw';
}

export interface StorageVolumeApi {
  initializeConnection(volumeId: string, connector: Record<string, unknown>): Promise<ShareConnection>;
  attach(volumeId: string, record: AttachRecord): Promise<void>;
  detach(volumeId: string): Promise<void>;
  terminateConnection(volumeId: string, connector: Record<string, unknown>): Promise<void>;
}

export class HttpStorageVolumeApi implements StorageVolumeApi {
  constructor(private readonly o: { baseUrl: string; token: string; timeoutMs: number; caFile?: string }) {}

  private async action(volumeId: string, body: unknown): Promise<unknown> {
    const url = new URL(`/v3/volumes/${volumeId}/action`, this.o.baseUrl);
    let res: Response;
    try {
      // The service token goes to the configured storage API only (no redirect is followed).
      res = await storageFetch(url, {
        method: 'POST', body: JSON.stringify(body), timeoutMs: this.o.timeoutMs, ...(this.o.caFile ? { caFile: this.o.caFile } : {}),
        headers: { 'content-type': 'application/json', 'x-auth-token': this.o.token, ...requestIdHeaders() },
      });
    } catch (err) {
      throw new StorageError('METADATA_API_UNAVAILABLE', `storage API unreachable: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as Record<string, { error_code?: string; message?: string }>) : {};
    if (!res.ok) {
      const fault = Object.values(parsed)[0] ?? {};
      const code: ErrorCode = fault.error_code !== undefined && fault.error_code in ERROR_CODES ? fault.error_code as ErrorCode : 'INTERNAL';
      throw new StorageError(code, `storage API ${Object.keys(body as object)[0]} on ${volumeId}: ${fault.message ?? `HTTP ${res.status}`}`, { details: { status: res.status } });
    }
    return parsed;
  }

  async initializeConnection(volumeId: string, connector: Record<string, unknown>): Promise<ShareConnection> {
    const out = await this.action(volumeId, { 'os-initialize_connection': { connector } }) as { connection_info?: ShareConnection };
    if (!out.connection_info?.data?.name) throw new StorageError('INTERNAL', 'os-initialize_connection answered without connection_info');
    return out.connection_info;
  }

  async attach(volumeId: string, r: AttachRecord): Promise<void> {
    await this.action(volumeId, {
      'os-attach': {
        instance_uuid: r.instanceUuid, mountpoint: r.mountpoint, host_name: r.hostName,
        active_file: r.activeFile, format: r.format,
      },
    });
  }

  async detach(volumeId: string): Promise<void> {
    await this.action(volumeId, { 'os-detach': {} });
  }

  async terminateConnection(volumeId: string, connector: Record<string, unknown>): Promise<void> {
    await this.action(volumeId, { 'os-terminate_connection': { connector } });
  }
}
