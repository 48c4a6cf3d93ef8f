/**
 * The storage service's attachments API (Cinder 3.44), called as a compute service calls it:
 *   POST   /v3/attachments {"attachment": {volume_uuid, instance_uuid, connector}} → {attachment: {id, connection_info}}
 *          (reserve and connect in one call; the connector names this host, whose coordinator
 *          the storage side finds in its registry: no endpoint is ever sent)
 *   POST   /v3/attachments/{id}/action {"os-complete": null}   the guest has the disk
 *   GET    /v3/attachments?volume_id=&instance_id=&all_tenants=true   (detach finds its record)
 *   DELETE /v3/attachments/{id}                                  detach (or give up a failed attach)
 * Authenticated with the coordinator's outbound service token (coordinator.serviceToken); faults keep the API's own error code.
 */
import { ERROR_CODES, StorageError, type ErrorCode } from '../../lib/core/errors.js';
import { storageFetch } from '../http/storage-fetch.js';
import type { ShareConnection } from './mounts.js';
import { requestIdHeaders } from '../../lib/core/request-context.js';

/** The attachments API's microversion this client speaks (os-complete is 3.44). */
const MICROVERSION = 'volume 3.44';

export interface Reservation {
  attachmentId: string;
  connection: ShareConnection;
}

export interface StorageVolumeApi {
  /** Reserve the volume for `instance` on this host and get what to open (attachment create with a connector). */
  reserve(volumeId: string, instance: string, connector: Record<string, unknown>): Promise<Reservation>;
  /** The disk is in the guest (os-complete). */
  complete(attachmentId: string): Promise<void>;
  /** Delete one attachment: a detach, or an attach given up before the guest had the disk. */
  release(attachmentId: string): Promise<void>;
  /** Delete the attachments of the volume to `instance`; none left (a resent detach) is not an error. */
  detach(volumeId: string, instance: string): Promise<void>;
}

export class HttpStorageVolumeApi implements StorageVolumeApi {
  constructor(private readonly o: { baseUrl: string; token: string; timeoutMs: number; caFile?: string }) {}

  private async call(method: 'GET' | 'POST' | 'DELETE', pathAndQuery: string, what: string, body?: unknown): Promise<Record<string, unknown>> {
    const url = new URL(`/v3${pathAndQuery}`, this.o.baseUrl);
    let res: Response;
    try {
      // The service token goes to the configured storage API only (no redirect is followed).
      res = await storageFetch(url, {
        method, ...(body === undefined ? {} : { body: JSON.stringify(body) }), timeoutMs: this.o.timeoutMs, ...(this.o.caFile ? { caFile: this.o.caFile } : {}),
        headers: { 'content-type': 'application/json', 'x-auth-token': this.o.token, 'openstack-api-version': MICROVERSION, ...requestIdHeaders() },
      });
    } catch (err) {
      throw new StorageError('METADATA_API_UNAVAILABLE', `storage API unreachable: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!res.ok) {
      const fault = (Object.values(parsed)[0] ?? {}) as { error_code?: string; message?: string };
      const code: ErrorCode = fault.error_code !== undefined && fault.error_code in ERROR_CODES ? fault.error_code as ErrorCode : 'INTERNAL';
      throw new StorageError(code, `storage API ${what}: ${fault.message ?? `HTTP ${res.status}`}`, { details: { status: res.status } });
    }
    return parsed;
  }

  async reserve(volumeId: string, instance: string, connector: Record<string, unknown>): Promise<Reservation> {
    const out = await this.call('POST', '/attachments', `attachment create of ${volumeId}`, { attachment: { volume_uuid: volumeId, instance_uuid: instance, connector } });
    const a = out.attachment as { id?: string; connection_info?: ShareConnection } | undefined;
    if (!a?.id || !a.connection_info?.data?.name) throw new StorageError('INTERNAL', 'attachment create answered without an id or connection_info');
    return { attachmentId: a.id, connection: a.connection_info };
  }

  async complete(attachmentId: string): Promise<void> {
    await this.call('POST', `/attachments/${attachmentId}/action`, `os-complete of ${attachmentId}`, { 'os-complete': null });
  }

  async release(attachmentId: string): Promise<void> {
    await this.call('DELETE', `/attachments/${attachmentId}`, `attachment delete of ${attachmentId}`);
  }

  async detach(volumeId: string, instance: string): Promise<void> {
    const q = new URLSearchParams({ volume_id: volumeId, instance_id: instance, all_tenants: 'true' });
    const out = await this.call('GET', `/attachments?${q.toString()}`, `attachment list of ${volumeId}`);
    for (const a of (out.attachments as { id: string }[] | undefined) ?? []) {
      await this.release(a.id).catch((err: unknown) => {
        // Deleted meanwhile (a resent detach): nothing left to record.
        if (!(err instanceof StorageError && err.code === 'ATTACHMENT_NOT_FOUND')) throw err;
      });
    }
  }
}
