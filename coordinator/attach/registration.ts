/**
 * Self-registration: at start the coordinator tells the storage service where it listens and the
 * token it accepts, as `PUT /v3/os-compute-hosts/<hostName>` with its outbound service token (the
 * storage API lets a service token bound to this host register this host only). The storage
 * service calls this host only at the registered endpoint, with that token.
 * A storage service that does not answer yet is asked again every retryMs until it accepts or the
 * coordinator stops; a refusal (403: the token is not bound to this host) is logged and retried as
 * well, since an admin may fix the token entry meanwhile. Once accepted, the registration is
 * renewed every heartbeatMs: the storage service's os-services shows this host up while its
 * heartbeats arrive and down once they stop (a stopped coordinator, a lost network).
 */
import type { Logger } from '../../lib/core/logger.js';
import { storageFetch } from '../http/storage-fetch.js';

export interface RegistrationOptions {
  metadataApi: string;
  serviceToken: string;
  hostName: string;
  endpoint: string;
  /** The inbound token: sent once per attempt, in the body, never logged. */
  credential: string;
  timeoutMs: number;
  retryMs: number;
  /** Renewal period once registered (0: register once, no heartbeat). */
  heartbeatMs?: number;
  /** CA bundle of an https storage API (coordinator.metadataCaFile). */
  caFile?: string;
  log: Logger;
}

/** One attempt; resolves true when the storage service stored the entry. `quiet`: a heartbeat's success logs at debug only. */
export async function registerOnce(o: RegistrationOptions, quiet = false): Promise<boolean> {
  const url = new URL(`/v3/os-compute-hosts/${encodeURIComponent(o.hostName)}`, o.metadataApi);
  try {
    // The service token (and a registration's inbound token) go to the configured storage API
    // only: no redirect is followed.
    const res = await storageFetch(url, {
      method: 'PUT', timeoutMs: o.timeoutMs, ...(o.caFile ? { caFile: o.caFile } : {}),
      headers: { 'content-type': 'application/json', 'x-auth-token': o.serviceToken },
      body: JSON.stringify({ compute_host: { coordinator_endpoint: o.endpoint, credential: o.credential } }),
    });
    const text = await res.text();
    if (res.ok) {
      if (quiet) o.log.debug({ host_name: o.hostName }, 'registration renewed (heartbeat)');
      else o.log.info({ host_name: o.hostName, endpoint: o.endpoint }, 'registered with the storage service');
      return true;
    }
    o.log.warn({ host_name: o.hostName, status: res.status, answer: text.slice(0, 300) }, 'the storage service refused the registration of this host');
  } catch (err) {
    o.log.warn({ host_name: o.hostName, error: (err as Error).message }, 'registration with the storage service failed (will retry)');
  }
  return false;
}

export interface Registration {
  /** Resolves after the first attempt (whatever its outcome). */
  first: Promise<boolean>;
  stop(): void;
}

export function startRegistration(o: RegistrationOptions): Registration {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let registered = false;
  const attempt = async (): Promise<boolean> => {
    const ok = await registerOnce(o, registered);
    // A failed heartbeat is retried as a failed first registration is; the next success logs again at info.
    registered = ok;
    const next = ok ? (o.heartbeatMs ?? 0) : o.retryMs;
    if (!stopped && next > 0) {
      timer = setTimeout(() => { void attempt(); }, next);
      timer.unref();
    }
    return ok;
  };
  return {
    first: attempt(),
    stop: () => { stopped = true; if (timer) clearTimeout(timer); },
  };
}
