/** A small HTTP client of the storage service for the admin CLI (fetch, JSON, OpenStack faults). */
import { unreachable } from './cli-error.js';
import type { Connection } from './environment.js';

export type ClientOptions = Connection & {
  /** After a Keystone password login: its token, and the URL to use (given, or from the catalog). */
  session?: () => Promise<{ token: string; url: string }>;
};

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export class ApiClient {
  constructor(private readonly o: ClientOptions) {}

  private async target(): Promise<{ url: string; token: string }> {
    if (this.o.session) return this.o.session();
    // Without a token: the noauth form the cinder client uses ("user:project").
    return { url: this.o.url, token: this.o.token ?? `${this.o.user}:${this.o.project}` };
  }

  /** fetch, with a failure to connect named for the URL and its cause rather than "fetch failed". */
  private async send(path: string, init: RequestInit & { headers: Record<string, string> }): Promise<Response> {
    const t = await this.target();
    const base = t.url.replace(/\/$/, '');
    try {
      return await fetch(`${base}${path}`, { ...init, headers: { ...init.headers, 'x-auth-token': t.token } });
    } catch (err) {
      throw unreachable(base, err);
    }
  }

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T; headers: Headers }> {
    const r = await this.send(path, { method, headers: { 'content-type': 'application/json', accept: 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    } catch {
      // Not the storage service (a proxy's error page, another program on the port).
      throw new ApiError(r.status, `HTTP_${r.status}`, `${r.url} answered ${r.status} with a body that is not JSON: ${text.slice(0, 120)}`);
    }
    if (r.status >= 400) {
      const fault = Object.values(parsed)[0] as { message?: string; error_code?: string } | undefined;
      throw new ApiError(r.status, fault?.error_code ?? 'HTTP_' + r.status, fault?.message ?? `HTTP ${r.status}`);
    }
    return { status: r.status, body: parsed as T, headers: r.headers };
  }

  /** A request whose body or answer is a stream (archives): the caller reads the response. */
  raw(method: string, path: string, body?: ReadableStream, contentType?: string): Promise<Response> {
    const headers: Record<string, string> = { accept: '*/*' };
    if (contentType) headers['content-type'] = contentType;
    return this.send(path, { method, headers, ...(body ? { body, duplex: 'half' } : {}) } as RequestInit & { headers: Record<string, string> });
  }
}
