/**
 * The route table: every endpoint once, with the summary the OpenAPI document uses. Versioned
 * routes are registered twice: project-less (`/v3/volumes`, what the cinder client uses in
 * noauth mode) first, then `/v3/:project_id/volumes` (older clients and other tools).
 */
import type { Request, Response } from 'express';
import type { PolicyName } from '../policy.js';

export type Method = 'get' | 'post' | 'put' | 'delete';

export interface RouteDef {
  method: Method;
  /** Express path below /v3 (versioned) or from the root. */
  path: string;
  summary: string;
  versioned: boolean;
  /** The rule of policy.ts this route is checked against (after authentication, before the handler). */
  policy: PolicyName;
  /**
   * An unversioned (public) route that still authenticates a caller presenting a credential
   * (auth.ts authenticateIfPresented), so its handler can answer an admin more; versioned routes always authenticate.
   */
  identifiesCaller?: boolean;
  /** Successful status, for the OpenAPI document. */
  status: number;
  handler: (req: Request, res: Response) => Promise<void> | void;
}

export function expressPaths(r: RouteDef): string[] {
  return r.versioned ? [`/v3${r.path}`, `/v3/:project_id${r.path}`] : [r.path];
}

/** `/volumes/:volume_id` → `/volumes/{volume_id}` */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([a-z_]+)/g, '{$1}');
}
