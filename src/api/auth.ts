/**
 * Authentication. Three modes (config api.auth):
 * - "keystone" (production): tokens validated by Keystone (keystone/authenticator.ts), plus the
 *   compute-host credentials of api.tokens / api.tokensFile;
 * - "tokens" (FOR TESTS ONLY): X-Auth-Token is looked up in api.tokens → user, project, roles;
 * - "noauth" (development; the cinder client's noauth plugin): X-Auth-Token "user:project", or
 *   the X-User-Id / X-Project-Id headers. Roles come from X-Roles when present (unknown names
 *   are dropped, so "X-Roles: bogus" has no role at all), else admin + member, as Cinder's own
 *   noauth middleware grants an admin context.
 * Then: a project id in the path must be the caller's own, unless the policy admits the caller
 * across projects. Which roles may call what: policy.ts.
 */
import type { NextFunction, Request, Response } from 'express';
import { StorageError } from '../../lib/core/errors.js';
import { readFileSync } from 'node:fs';
import type { Config } from '../../lib/core/config.js';
import { readSecret } from '../../lib/core/secrets.js';
import { KeystoneClient } from './keystone/client.js';
import { KeystoneAuthenticator } from './keystone/authenticator.js';
import { authorize, ROLES, type Caller, type PolicyName, type Role } from './policy.js';

/** User and project ids: Keystone's alphabet; never only dots (".." in a path is traversal, not a project). */
const ID = /^(?!\.+$)[A-Za-z0-9_.@-]{1,64}$/;

declare module 'express-serve-static-core' {
  interface Request {
    caller?: Caller;
  }
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function noauthCaller(req: Request): Caller {
  const token = header(req, 'x-auth-token');
  const [tUser, tProject] = token?.includes(':') ? token.split(':', 2) : [undefined, undefined];
  const userId = tUser ?? header(req, 'x-user-id');
  const projectId = tProject ?? header(req, 'x-project-id');
  if (!userId || !projectId || !ID.test(userId) || !ID.test(projectId)) {
    throw new StorageError('UNAUTHORIZED', 'noauth needs X-Auth-Token "user:project" (or X-User-Id and X-Project-Id)');
  }
  const asked = header(req, 'x-roles')?.split(',').map((r) => r.trim().toLowerCase()).filter((r): r is Role => (ROLES as string[]).includes(r));
  const roles = new Set<Role>(asked ?? ['admin', 'member']);
  return { userId, projectId, roles };
}

type TokenEntry = Config['api']['tokens'][string];

function callerOfEntry(entry: TokenEntry): Caller {
  return { userId: entry.userId, projectId: entry.projectId, roles: new Set(entry.roles), ...(entry.host !== undefined ? { host: entry.host } : {}) };
}

/** api.tokens plus the entries of api.tokensFile (a file kept out of the main configuration). */
export function staticTokens(api: Config['api']): Map<string, Caller> {
  const all = new Map<string, Caller>();
  let fromFile: Record<string, TokenEntry> = {};
  if (api.tokensFile) {
    try {
      fromFile = JSON.parse(readFileSync(api.tokensFile, 'utf8')) as Record<string, TokenEntry>;
    } catch (err) {
      throw new StorageError('CONFIG_INVALID', `cannot read api.tokensFile (${api.tokensFile}): ${(err as Error).name}`, { cause: err });
    }
  }
  for (const [token, entry] of [...Object.entries(api.tokens), ...Object.entries(fromFile)]) {
    if (typeof entry?.userId !== 'string' || typeof entry.projectId !== 'string' || !Array.isArray(entry.roles)) {
      throw new StorageError('CONFIG_INVALID', 'an entry of api.tokens / api.tokensFile needs userId, projectId and roles');
    }
    all.set(token, callerOfEntry(entry));
  }
  return all;
}

function tokenCaller(req: Request, tokens: ReadonlyMap<string, Caller>): Caller {
  const token = header(req, 'x-auth-token');
  const caller = token !== undefined ? tokens.get(token) : undefined;
  if (!caller) throw new StorageError('UNAUTHORIZED', 'missing or unknown X-Auth-Token');
  return caller;
}

/** Under "keystone" the static entries may only be compute-host credentials (service role, bound to a host). */
function hostCredentials(tokens: Map<string, Caller>): Map<string, Caller> {
  for (const c of tokens.values()) {
    if (c.host === undefined || c.roles.size !== 1 || !c.roles.has('service')) {
      throw new StorageError('CONFIG_INVALID', `api.auth "keystone" accepts static tokens only as compute-host credentials (roles ["service"] and a host); user ${c.userId}'s is not`);
    }
  }
  return tokens;
}

export function keystoneAuthenticator(api: Config['api']): KeystoneAuthenticator {
  const k = api.keystone;
  const password = readSecret({ name: 'the Keystone password (api.keystone.passwordFile)', file: k.passwordFile, envVar: 'QCOWSHARE_KEYSTONE_PASSWORD' });
  if (password === '') throw new StorageError('CONFIG_INVALID', 'api.auth "keystone" needs api.keystone.passwordFile or QCOWSHARE_KEYSTONE_PASSWORD');
  const client = new KeystoneClient({
    url: k.url, username: k.username, password, userDomain: k.userDomain, project: k.project, projectDomain: k.projectDomain,
    timeoutMs: k.timeoutMs, ...(k.caFile ? { tls: { caFile: k.caFile } } : {}),
  });
  return new KeystoneAuthenticator({ client, cacheSize: k.cacheSize, cacheTtlMs: k.cacheTtlMs, hostCredentials: hostCredentials(staticTokens(api)) });
}

export type Authenticate = ((req: Request, res: Response, next: NextFunction) => Promise<void>) & { keystone?: KeystoneAuthenticator };

/** The authentication middleware of api.auth's mode, built once per service (the Keystone cache lives in it). */
export function authenticate(api: Config['api']): Authenticate {
  if (api.auth === 'keystone') {
    const keystone = keystoneAuthenticator(api);
    const mw: Authenticate = async (req, _res, next) => {
      req.caller = await keystone.caller(header(req, 'x-auth-token'), header(req, 'x-service-token'));
      next();
    };
    mw.keystone = keystone;
    return mw;
  }
  const tokens = api.auth === 'tokens' ? staticTokens(api) : new Map<string, Caller>();
  return async (req, _res, next) => {
    req.caller = api.auth === 'noauth' ? noauthCaller(req) : tokenCaller(req, tokens);
    next();
  };
}

/**
 * For the public probes (/readyz, /metrics): a request that presents no credential (no
 * X-Auth-Token, and in noauth mode no X-User-Id either) stays anonymous; one that presents a
 * credential is authenticated as on /v3, so an unknown token is UNAUTHORIZED, not ignored.
 */
export function authenticateIfPresented(auth: Authenticate): (req: Request, res: Response, next: NextFunction) => Promise<void> {
  return async (req, res, next) => {
    if (header(req, 'x-auth-token') === undefined && header(req, 'x-user-id') === undefined) {
      next();
      return;
    }
    await auth(req, res, next);
  };
}

export function callerOf(req: Request): Caller {
  if (!req.caller) throw new StorageError('UNAUTHORIZED', 'not authenticated');
  return req.caller;
}

/**
 * The route's policy rule, then the path's project scope: before any body is read, so a refused
 * caller learns nothing from validation errors.
 */
export function authorizeRoute(policy: PolicyName) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    authorize(callerOf(req), policy);
    scopedProject(req);
    next();
  };
}

/**
 * The project a request is scoped to: the path's project id when given (must be the caller's
 * own unless admin/service), else the caller's project.
 */
export function scopedProject(req: Request): string {
  const caller = callerOf(req);
  const pathProject = typeof req.params.project_id === 'string' ? req.params.project_id : undefined;
  if (pathProject === undefined || pathProject === caller.projectId) return caller.projectId;
  try {
    authorize(caller, 'qcowshare:cross_project');
  } catch {
    throw new StorageError('FORBIDDEN', `project ${pathProject} in the path is not the caller's project`);
  }
  if (!ID.test(pathProject)) throw new StorageError('INVALID_INPUT', 'project id in the path is malformed');
  return pathProject;
}
