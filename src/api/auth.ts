/**
 * Authentication. Two modes (config api.auth):
 * - "tokens": X-Auth-Token is looked up in api.tokens → user, project, roles;
 * - "noauth" (development; the cinder client's noauth plugin): X-Auth-Token "user:project", or
 *   the X-User-Id / X-Project-Id headers. Roles come from X-Roles when present (unknown names
 *   are dropped, so "X-Roles: bogus" has no role at all), else admin + member, as Cinder's own
 *   noauth middleware grants an admin context.
 * Then: a project id in the path must be the caller's own, unless the policy admits the caller
 * across projects. Which roles may call what: policy.ts.
 */
import type { NextFunction, Request, Response } from 'express';
import { StorageError } from '../core/errors.js';
import type { Config } from '../core/config.js';
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

function tokenCaller(req: Request, tokens: Config['api']['tokens']): Caller {
  const token = header(req, 'x-auth-token');
  const entry = token !== undefined && Object.prototype.hasOwnProperty.call(tokens, token) ? tokens[token] : undefined;
  if (!entry) throw new StorageError('UNAUTHORIZED', 'missing or unknown X-Auth-Token');
  return { userId: entry.userId, projectId: entry.projectId, roles: new Set(entry.roles), ...(entry.host !== undefined ? { host: entry.host } : {}) };
}

export function authenticate(api: Config['api']) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    req.caller = api.auth === 'noauth' ? noauthCaller(req) : tokenCaller(req, api.tokens);
    next();
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
