/**
 * The request an operation runs for, carried through every await (AsyncLocalStorage) so that
 * each log line of the request and of the background work it starts names the same request id
 * (logger.ts's mixin), and so that calls to a coordinator pass it on.
 *
 * A client's `X-OpenStack-Request-ID` is kept when it is well formed (`req-<uuid>`, what oslo
 * and the OpenStack clients send); anything else is replaced by a new id, so a client cannot put
 * arbitrary text into the logs.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-openstack-request-id';

export interface Actor {
  user: string;
  project: string;
  roles: string[];
}

export interface RequestContext {
  requestId: string;
  /** Who asked, once authentication has run (read late: it is not known when the request arrives). */
  actor(): Actor | undefined;
}

const WELL_FORMED = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const storage = new AsyncLocalStorage<RequestContext>();

/** The client's id when well formed, else a new one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return given !== undefined && WELL_FORMED.test(given) ? given : `req-${randomUUID()}`;
}

export function runInRequest<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

/** Headers for an outgoing call made on behalf of the current request (none outside one). */
export function requestIdHeaders(): Record<string, string> {
  const ctx = storage.getStore();
  return ctx ? { [REQUEST_ID_HEADER]: ctx.requestId } : {};
}
