/** A small HTTP client of the storage service for the admin CLI (fetch, JSON, OpenStack faults). */
export interface ClientOptions {
  url: string;
  token?: string;
  user: string;
  project: string;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export class ApiClient {
  constructor(private readonly o: ClientOptions) {}

  private headers(): Record<string, string> {
    // Without a token: the noauth form the cinder client uses ("user:project").
    return { 'content-type': 'application/json', accept: 'application/json', 'x-auth-token': this.o.token ?? `${this.o.user}:${this.o.project}` };
  }

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T; headers: Headers }> {
    const r = await fetch(`${this.o.url.replace(/\/$/, '')}${path}`, { method, headers: this.headers(), body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    const parsed = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    if (r.status >= 400) {
      const fault = Object.values(parsed)[0] as { message?: string; error_code?: string } | undefined;
      throw new ApiError(r.status, fault?.error_code ?? 'HTTP_' + r.status, fault?.message ?? `HTTP ${r.status}`);
    }
    return { status: r.status, body: parsed as T, headers: r.headers };
  }

  /** A request whose body or answer is a stream (archives): the caller reads the response. */
  raw(method: string, path: string, body?: ReadableStream, contentType?: string): Promise<Response> {
    const headers: Record<string, string> = { ...this.headers(), accept: '*/*' };
    if (contentType) headers['content-type'] = contentType;
    else delete headers['content-type'];
    return fetch(`${this.o.url.replace(/\/$/, '')}${path}`, { method, headers, ...(body ? { body, duplex: 'half' } : {}) } as RequestInit);
  }
}
