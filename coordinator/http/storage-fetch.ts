/**
 * Every call from this coordinator to the storage API (reports, attach records, registration):
 * the service token goes to the configured metadataApi only, so a redirect is never followed; an
 * https storage API with coordinator.metadataCaFile set is verified against that CA alone.
 */
import { secureFetch } from '../../lib/core/secure-fetch.js';

export interface StorageFetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** CA bundle (PEM file) of the storage API's certificate; absent: the system's store. */
  caFile?: string;
}

export function storageFetch(url: URL, init: StorageFetchInit): Promise<Response> {
  if (url.protocol === 'https:' && init.caFile) {
    return secureFetch(url, { method: init.method, headers: init.headers, ...(init.body === undefined ? {} : { body: init.body }), timeoutMs: init.timeoutMs, tls: { caFile: init.caFile } });
  }
  // fetch would resend the token (a custom header, not stripped) to wherever a redirect points.
  return fetch(url, { redirect: 'manual', method: init.method, headers: init.headers, body: init.body, signal: AbortSignal.timeout(init.timeoutMs) });
}
