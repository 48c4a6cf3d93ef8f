/**
 * One request of the storage side to a compute coordinator, and the one rule for reading its
 * answer (the driver's live paths and the service's checkpoint calls both go through it):
 * - the credential is the registry's for that host and goes to the registered endpoint only:
 *   secureFetch never follows a redirect, and a 3xx is refused here;
 * - no answer (connection, time-out, TLS) is COORDINATOR_UNAVAILABLE flagged `unreachable`:
 *   the work may or may not have happened, so it is never treated as a refusal;
 * - an answer that is not a JSON object (a proxy's page, a truncated body) counts as no answer;
 * - an error answer keeps the coordinator's own stable code (else `unknownCode`) and is flagged
 *   `refused`: the coordinator validated the request and changed nothing.
 * The answer's object (an empty body: {}) is returned unvalidated: each caller checks the fields
 * it reads (a coordinator's answer is hostile input like any other).
 */
import { ERROR_CODES, StorageError, type ErrorCode } from '../core/errors.js';
import { requestIdHeaders } from '../core/request-context.js';
import { secureFetch, type FetchTls } from '../core/secure-fetch.js';

export interface CoordinatorRequest {
  endpoint: string;
  token: string;
  tls?: FetchTls;
  method: string;
  pathname: string;
  body?: unknown;
  timeoutMs: number;
  /** Names the coordinator in messages (e.g. "coordinator of compute-1"); default: its origin. */
  label?: string;
  /** Added to every error's details (e.g. the host's name). */
  details?: Record<string, unknown>;
  /** The code of a refusal whose own code this service does not know (default INTERNAL). */
  unknownCode?: ErrorCode;
}

/** The answer's JSON object (an empty body is {}), or null when it is not one. */
function answerOf(text: string): Record<string, unknown> | null {
  if (text === '') return {};
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : null;
  } catch {
    return null;
  }
}

function knownCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

export async function coordinatorCall(r: CoordinatorRequest): Promise<Record<string, unknown>> {
  const url = new URL(r.pathname, r.endpoint);
  const who = r.label ?? `coordinator ${url.origin}`;
  const what = `${r.method} ${url.pathname}`;
  const details = { endpoint: url.origin, ...r.details };
  let res: Response;
  try {
    // The request id of the storage-side request this call serves: both logs name the same id.
    const headers = { 'content-type': 'application/json', 'x-auth-token': r.token, ...requestIdHeaders() };
    res = await secureFetch(url, {
      method: r.method, headers, ...(r.body === undefined ? {} : { body: JSON.stringify(r.body) }), timeoutMs: r.timeoutMs, ...(r.tls ? { tls: r.tls } : {}),
    });
  } catch (err) {
    throw new StorageError('COORDINATOR_UNAVAILABLE', `${who} unreachable (${what}): ${(err as Error).message}`, { details: { ...details, unreachable: true }, cause: err });
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    throw new StorageError('COORDINATOR_UNAVAILABLE', `${who} answered ${what} with a redirect (HTTP ${res.status}), not followed: its credential goes to the registered endpoint only`, {
      details: { ...details, refused: true, status: res.status },
    });
  }
  const parsed = answerOf(await res.text());
  if (parsed === null) {
    throw new StorageError('COORDINATOR_UNAVAILABLE', `${who} answered ${what} (HTTP ${res.status}) with no JSON object`, { details: { ...details, unreachable: true, status: res.status } });
  }
  if (!res.ok) {
    const e = (parsed.error ?? {}) as { code?: unknown; message?: unknown };
    const code = knownCode(e.code) ? e.code : (r.unknownCode ?? 'INTERNAL');
    const message = typeof e.message === 'string' ? e.message.slice(0, 500) : `HTTP ${res.status}`;
    throw new StorageError(code, `${who} ${what}: ${message}`, { details: { ...details, refused: true, status: res.status } });
  }
  return parsed;
}
