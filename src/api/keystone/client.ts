/**
 * The Identity API v3 calls the storage service makes: its own token (password authentication,
 * scoped to its project, renewed before it expires) and the validation of a caller's token
 * (GET /v3/auth/tokens with X-Subject-Token). Keystone not answering, answering 5xx, or refusing
 * the service's own credentials is IDENTITY_UNAVAILABLE (503): a caller is never let in because
 * Keystone could not be asked.
 */
import { StorageError } from '../../../lib/core/errors.js';
import { secureFetch, type FetchTls } from '../../../lib/core/secure-fetch.js';

export interface KeystoneCredentials {
  url: string;
  username: string;
  password: string;
  userDomain: string;
  project: string;
  projectDomain: string;
  timeoutMs: number;
  tls?: FetchTls;
}

/** What a valid token says about its bearer (Keystone's token body, the parts we use). */
export interface TokenInfo {
  userId: string;
  projectId: string | undefined;
  roles: string[];
  expiresAt: number;
}

interface TokenBody {
  token?: {
    expires_at?: string;
    user?: { id?: string };
    project?: { id?: string };
    roles?: { name?: string }[];
  };
}

// Renew our own token this long before Keystone says it expires (clock skew, slow requests).
const RENEW_MARGIN_MS = 60_000;

function unavailable(why: string, cause?: unknown): StorageError {
  return new StorageError('IDENTITY_UNAVAILABLE', `Keystone ${why}: nothing is allowed until it answers`, cause === undefined ? {} : { cause });
}

function tokenInfo(text: string): TokenInfo {
  let body: TokenBody;
  try {
    body = JSON.parse(text) as TokenBody;
  } catch {
    throw unavailable('answered with a body that is not JSON');
  }
  const t = body?.token;
  const expiresAt = Date.parse(t?.expires_at ?? '');
  if (!t?.user?.id || Number.isNaN(expiresAt)) throw unavailable('answered a token validation without a user or an expiry');
  return {
    userId: t.user.id,
    projectId: t.project?.id,
    roles: (t.roles ?? []).map((r) => (r.name ?? '').toLowerCase()).filter((n) => n !== ''),
    expiresAt,
  };
}

export class KeystoneClient {
  private own: { token: string; expiresAt: number } | undefined;
  private renewing: Promise<string> | undefined;

  constructor(private readonly c: KeystoneCredentials) {}

  private async call(path: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<Response> {
    const url = new URL(path, this.c.url.endsWith('/') ? this.c.url : `${this.c.url}/`);
    try {
      return await secureFetch(url, { ...init, timeoutMs: this.c.timeoutMs, ...(this.c.tls ? { tls: this.c.tls } : {}) });
    } catch (err) {
      throw unavailable(`at ${url.origin} did not answer (${(err as Error).message})`, err);
    }
  }

  private async authenticate(): Promise<string> {
    const res = await this.call('auth/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: this.c.username, domain: { name: this.c.userDomain }, password: this.c.password } } },
          scope: { project: { name: this.c.project, domain: { name: this.c.projectDomain } } },
        },
      }),
    });
    const text = await res.text();
    const token = res.headers.get('x-subject-token');
    if (res.status !== 201 || !token) {
      // The reason (bad password, unknown user) is in the status; the body is not echoed.
      throw unavailable(`refused this service's own credentials (user ${this.c.username}: HTTP ${res.status})`);
    }
    const info = tokenInfo(text);
    this.own = { token, expiresAt: info.expiresAt };
    return token;
  }

  /** This service's own token, renewed when near its expiry (one renewal at a time). */
  private async serviceToken(force = false): Promise<string> {
    if (!force && this.own && this.own.expiresAt - RENEW_MARGIN_MS > Date.now()) return this.own.token;
    this.renewing ??= this.authenticate().finally(() => { this.renewing = undefined; });
    return this.renewing;
  }

  /** The token's facts, or null when Keystone says it is not valid (unknown, expired, revoked). */
  async validate(subject: string): Promise<TokenInfo | null> {
    for (const retry of [false, true]) {
      const res = await this.call('auth/tokens', {
        method: 'GET',
        headers: { 'x-auth-token': await this.serviceToken(retry), 'x-subject-token': subject },
      });
      const text = await res.text();
      if (res.status === 200) return tokenInfo(text);
      // 404: unknown, expired or revoked; 400: not even a token's shape.
      if (res.status === 404 || res.status === 400) return null;
      // 401: our own token expired or was revoked early: one fresh token, then give up.
      if (res.status === 401 && !retry) continue;
      throw unavailable(`answered a token validation with HTTP ${res.status}`);
    }
    throw unavailable('refused this service\'s own token twice');
  }
}
