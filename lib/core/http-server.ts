/**
 * The node:http server under both APIs (storage service and coordinator), hardened against
 * malformed and slow clients before any route sees a request:
 *   - header, whole-request and keep-alive idle time-outs (node's own, checked often enough that
 *     the configured values are what a client sees, not node's 30 s checking period);
 *   - at most maxConnections concurrent connections (node closes more at once);
 *   - at most maxHeaderBytes of request line and headers;
 *   - a path that does not percent-decode (`%`, `%u002e`, overlong UTF-8 `%C0%AE`) or decodes to a
 *     control character: 400 MALFORMED_REQUEST;
 *   - a body that is not JSON: 415 UNSUPPORTED_MEDIA_TYPE; one announced larger than the limit: 413.
 * What node's parser refuses itself (a bad request line, a control character in a header, headers
 * too large, a time-out) is answered here too, in the API's own error shape with a stable code,
 * and the connection is closed: never a 5xx, never an HTML page or a bare close.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { StorageError, type ErrorCode } from './errors.js';
import { tlsOptions, type TlsFiles } from './tls.js';

export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  maxHeaderBytes: number;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  limits: HttpLimits;
  /** The largest body any route reads ("64kb"); a request announcing more is refused before it is read. */
  bodyLimit: string;
  /**
   * Requests whose body is streamed to the route as it is (an import archive), exempt from the
   * JSON-only rule and from bodyLimit; the route reads and bounds it itself.
   */
  rawBody?: (req: IncomingMessage) => boolean;
  /** Requests whose body may also be an HTML form (application/x-www-form-urlencoded): the web console's posts. */
  formBody?: (req: IncomingMessage) => boolean;
  /** The API's error body for `err` (OpenStack fault on the storage service, {error} on the coordinator). */
  errorBody(err: StorageError): unknown;
  /** Serve HTTPS with these files (core/tls.ts); absent or null: plain HTTP. */
  tls?: TlsFiles | null;
}

// C0 controls and DEL. Nothing in a path of either API may contain them (ids are UUIDs, names
// travel in bodies), and a decoded NUL or newline would reach logs and file-name checks.
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** A path that cannot be a route of ours, or null. Checked segment by segment, as the router decodes. */
export function pathProblem(url: string): StorageError | null {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  for (const segment of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return new StorageError('MALFORMED_REQUEST', 'the request path is not valid percent-encoded UTF-8');
    }
    if (hasControl(decoded)) return new StorageError('MALFORMED_REQUEST', 'the request path contains a control character');
  }
  return null;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** application/json or application/<anything>+json, parameters (charset) aside. */
function isJson(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** "64kb" (body-parser's notation: b, kb, mb, gb; 1024-based) in bytes. */
export function parseByteSize(limit: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(limit);
  if (!m) throw new StorageError('CONFIG_INVALID', `not a byte size: ${JSON.stringify(limit)}`);
  return Math.floor(Number(m[1]) * (UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1));
}

function isForm(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

export function requestProblem(req: IncomingMessage, bodyLimitBytes: number, formAllowed = false): StorageError | null {
  const bad = pathProblem(req.url ?? '/');
  if (bad) return bad;
  if (hasBody(req) && !isJson(req.headers['content-type']) && !(formAllowed && isForm(req.headers['content-type']))) {
    return new StorageError('UNSUPPORTED_MEDIA_TYPE', 'a request body must be application/json');
  }
  // body-parser would refuse it too, but only after reading the whole announced body off the
  // connection: a client announcing 10 MB would hold it until the request time-out.
  if (Number(req.headers['content-length']) > bodyLimitBytes) {
    return new StorageError('PAYLOAD_TOO_LARGE', `request body is larger than the limit (${bodyLimitBytes} bytes)`);
  }
  return null;
}

/**
 * Errors that express, its router and body-parser raise for the client's mistakes (they carry a
 * 4xx `status`, and body-parser a `type`), as StorageErrors; null for anything else.
 */
export function fromHttpError(raw: unknown): StorageError | null {
  const err = raw as { type?: unknown; status?: unknown; message?: unknown } | null;
  if (typeof err?.status !== 'number' || err.status < 400 || err.status >= 500) return null;
  const type = typeof err.type === 'string' ? err.type : undefined;
  const details = type ? { reason: type } : {};
  if (type === 'entity.parse.failed') return new StorageError('INVALID_INPUT', 'request body is not valid JSON', { details });
  if (err.status === 413) return new StorageError('PAYLOAD_TOO_LARGE', 'request body is larger than the limit', { details });
  if (err.status === 415) return new StorageError('UNSUPPORTED_MEDIA_TYPE', 'request body encoding or charset is not supported', { details });
  // The router's "Failed to decode param" and body-parser's aborted or mis-sized bodies.
  return new StorageError('MALFORMED_REQUEST', type ? `unreadable request body (${type})` : 'malformed request', { details });
}

/** Node's parser errors and time-outs, by its codes. */
function clientErrorCode(err: NodeJS.ErrnoException): ErrorCode {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'REQUEST_TIMEOUT';
  if (err.code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE';
  return 'MALFORMED_REQUEST';
}

const CLIENT_MESSAGES: Partial<Record<ErrorCode, string>> = {
  REQUEST_TIMEOUT: 'the request did not arrive in time',
  HEADERS_TOO_LARGE: 'the request headers are too large',
  MALFORMED_REQUEST: 'the request cannot be parsed as HTTP/1.1',
};

/** `head`: the refused request was a HEAD, whose answer carries no body (RFC 9110 9.3.2), only its length. */
function rawReply(status: number, body: unknown, head: boolean): string {
  const json = JSON.stringify(body);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\n`
    + `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${head ? '' : json}`;
}

/** Whether the bytes the parser refused begin a HEAD request (node gives them as err.rawPacket). */
function refusedHead(err: NodeJS.ErrnoException): boolean {
  const raw = (err as NodeJS.ErrnoException & { rawPacket?: unknown }).rawPacket;
  return Buffer.isBuffer(raw) && raw.subarray(0, 5).toString('latin1') === 'HEAD ';
}

function onClientError(o: HttpServerOptions) {
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    // Node keeps the in-flight response on the socket; once its head went out, another reply
    // would corrupt the stream, so the connection is only closed (as node itself does).
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const code = clientErrorCode(err);
    const e = new StorageError(code, CLIENT_MESSAGES[code] ?? 'malformed request');
    socket.once('finish', () => socket.destroy());
    socket.end(rawReply(e.httpStatus, o.errorBody(e), refusedHead(err)));
  };
}

/** Listen with the limits above; `handler` (an express app) sees only well-formed requests. */
export function startHttpServer(handler: RequestListener, o: HttpServerOptions): Promise<Server> {
  const l = o.limits;
  const bodyLimitBytes = parseByteSize(o.bodyLimit);
  const requestTimeout = l.requestTimeoutMs;
  // node refuses a header time-out longer than the whole-request one.
  const headersTimeout = Math.min(l.headersTimeoutMs, requestTimeout);
  const serverOptions = {
    requestTimeout,
    headersTimeout,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    maxHeaderSize: l.maxHeaderBytes,
    // Node checks both time-outs only this often (default 30 s, which would let a stalled
    // client hold its connection for up to half a minute past the configured limit).
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(headersTimeout / 4))),
  };
  const listener: RequestListener = (req, res) => {
    const problem = o.rawBody?.(req) ? pathProblem(req.url ?? '/') : requestProblem(req, bodyLimitBytes, o.formBody?.(req) ?? false);
    if (!problem) {
      handler(req, res);
      return;
    }
    res.statusCode = problem.httpStatus;
    res.setHeader('Content-Type', 'application/json');
    // The body (if any) is not read: closing is cheaper than draining it.
    res.setHeader('Connection', 'close');
    res.end(JSON.stringify(o.errorBody(problem)));
  };
  // An https.Server is an http.Server underneath (same limits, same clientError handling).
  const server: Server = o.tls ? createHttpsServer({ ...serverOptions, ...tlsOptions(o.tls) }, listener) : createServer(serverOptions, listener);
  server.maxConnections = l.maxConnections;
  server.on('clientError', onClientError(o));
  // With a listener here node no longer answers `Expect: 100-continue` itself. An upload route
  // sends 100 Continue once it will read the body (upload-refusal.ts acceptUpload), so a refusal
  // (busy volume, denied) reaches the client before it sends an archive; other requests as node would.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!o.rawBody?.(req)) res.writeContinue();
    listener(req, res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
