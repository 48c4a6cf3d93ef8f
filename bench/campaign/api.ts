/** A minimal JSON client of the storage service's API (the campaign's only way to ask for work). */
export const TOKENS = {
  admin: { userId: 'u-admin', projectId: 'p-admin', roles: ['admin', 'member'] },
  alice: { userId: 'u-alice', projectId: 'p-alice', roles: ['member'] },
};

export interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  operationId: string | null;
}

export class Api {
  constructor(readonly url: string) {}

  async call(method: string, path: string, body?: unknown, who: keyof typeof TOKENS = 'alice'): Promise<Reply> {
    const r = await fetch(`${this.url}${path}`, {
      method,
      headers: { 'X-Auth-Token': who, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await r.text();
    return { status: r.status, body: text === '' ? null : JSON.parse(text), operationId: r.headers.get('x-operation-id') };
  }

  /** A call that must be accepted (2xx); throws with the reply otherwise. */
  async ok(method: string, path: string, body?: unknown, who: keyof typeof TOKENS = 'alice'): Promise<Reply> {
    const r = await this.call(method, path, body, who);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `check` returns a value; throws naming `what` after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, periodMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await sleep(periodMs);
  }
}
