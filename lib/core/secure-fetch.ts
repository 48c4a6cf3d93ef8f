/**
 * One HTTP(S) request with its own TLS trust (a CA file, optionally a client certificate), for
 * the calls that must not trust the system's store alone: the storage service to coordinators,
 * the coordinator to the storage API, the storage service to Keystone. Node's global fetch has no
 * per-request CA, and changing the process-wide one would widen every other call's trust. Never
 * follows a redirect (the caller sees the 3xx and decides); answers a standard Response.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface FetchTls {
  /** CA bundle file (PEM) the server's certificate must chain to; '' = the system's store. */
  caFile?: string;
  /** Client certificate and key files (PEM), for a server that asks for one. */
  certFile?: string;
  keyFile?: string;
}

export interface SecureFetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  tls?: FetchTls;
}

function readIf(file: string | undefined): Buffer | undefined {
  return file ? readFileSync(file) : undefined;
}

export function secureFetch(url: URL, init: SecureFetchInit): Promise<Response> {
  const https = url.protocol === 'https:';
  const tls = https && init.tls ? { ca: readIf(init.tls.caFile), cert: readIf(init.tls.certFile), key: readIf(init.tls.keyFile) } : {};
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const out = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v === undefined) continue;
          for (const one of Array.isArray(v) ? v : [v]) out.append(k, one);
        }
        const status = res.statusCode ?? 502;
        // Response refuses a body on these statuses.
        const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
        resolve(new Response(body, { status, headers: out }));
      });
    };
    // No shared keep-alive pool (agent: false): a server that closes an idle connection (uwsgi
    // does) would make the next request on it fail with "socket hang up"; and the trust (ca,
    // client certificate) is this request's own, never a pooled socket's.
    const options = { method: init.method, headers, timeout: init.timeoutMs, agent: false, ...tls };
    const req = https ? httpsRequest(url, options, onResponse) : httpRequest(url, options, onResponse);
    // `timeout` is idle time on the socket; the whole exchange is bounded too.
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${init.timeoutMs} ms`)), init.timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${init.timeoutMs} ms`)));
    req.on('error', reject);
    req.on('close', () => clearTimeout(timer));
    req.end(init.body);
  });
}
