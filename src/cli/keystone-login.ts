/**
 * Keystone password login for the CLI (an openrc's OS_* variables): a project-scoped token, and
 * the block-storage endpoint of the token's catalog (volumev3, or block-storage) on the wanted
 * interface and region. Failures name Keystone's URL: unreachable (exit 3), credentials refused
 * (exit 1, UNAUTHORIZED), no endpoint in the catalog when none was given (exit 2).
 */
import { ApiError } from './client.js';
import { CliError, networkCause } from './cli-error.js';
import type { PasswordLogin } from './environment.js';

export interface KeystoneSession {
  token: string;
  /** The block-storage endpoint of the catalog, or null when it has none. */
  endpoint: string | null;
}

interface CatalogEntry { type?: string; endpoints?: { interface?: string; region?: string; region_id?: string; url?: string }[] }

const VOLUME_TYPES = ['volumev3', 'block-storage'];

/** OS_AUTH_URL is the identity root, with or without its /v3. */
export function tokensUrl(authUrl: string): string {
  const root = authUrl.replace(/\/+$/, '');
  return `${/\/v3$/.test(root) ? root : `${root}/v3`}/auth/tokens`;
}

export function volumeEndpoint(catalog: CatalogEntry[], iface: string, region?: string): string | null {
  // Every entry of the type: a catalog may list the service more than once (one per region or deployment).
  for (const type of VOLUME_TYPES) {
    for (const c of catalog.filter((x) => x.type === type)) {
      const e = c.endpoints?.find((x) => x.interface === iface && (region === undefined || (x.region_id ?? x.region) === region));
      if (e?.url) return e.url;
    }
  }
  return null;
}

export async function keystoneLogin(l: PasswordLogin): Promise<KeystoneSession> {
  const url = tokensUrl(l.authUrl);
  const body = { auth: { identity: { methods: ['password'], password: { user: { ...l.user, password: l.password } } }, scope: { project: l.project } } };
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
  } catch (err) {
    throw new CliError('SERVICE_UNREACHABLE', `cannot reach Keystone at ${l.authUrl}: ${networkCause(err)} (OS_AUTH_URL)`, { url: l.authUrl });
  }
  const text = await res.text();
  const who = l.user.name ?? l.user.id ?? '?';
  if (res.status >= 400) {
    let reason = text.slice(0, 200);
    try { reason = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? reason; } catch { /* not JSON: the text itself */ }
    throw new ApiError(res.status, res.status === 401 ? 'UNAUTHORIZED' : `HTTP_${res.status}`, `Keystone at ${l.authUrl} refused the login of ${who}: ${reason}`);
  }
  const token = res.headers.get('x-subject-token');
  if (!token) throw new ApiError(res.status, `HTTP_${res.status}`, `Keystone at ${l.authUrl} answered without a token (X-Subject-Token)`);
  let catalog: CatalogEntry[] = [];
  try { catalog = (JSON.parse(text) as { token?: { catalog?: CatalogEntry[] } }).token?.catalog ?? []; } catch { /* no catalog: the URL must be given */ }
  return { token, endpoint: volumeEndpoint(catalog, l.interface, l.region) };
}
