/** Everything a use case may touch, built once per service instance (no module-level state). */
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Repositories } from '../db/index.js';
import type { HostedDriver } from './driver-adapter.js';
import type { Metrics } from './metrics.js';
import type { BackgroundTasks } from './tasks.js';

export interface ServiceDeps {
  config: Readonly<Config>;
  repos: Repositories;
  driver: HostedDriver;
  tasks: BackgroundTasks;
  metrics: Metrics;
  log: Logger;
  /** Identifies this process in lease rows (holder = `${holderId}/${operation id}`). */
  holderId: string;
}

export type Role = 'admin' | 'member' | 'service';

/** Who is calling, after authentication. */
export interface Caller {
  userId: string;
  projectId: string;
  roles: ReadonlySet<Role>;
  /** The compute host a service token is bound to (api.tokens[..].host); absent for every other caller. */
  host?: string;
}

export function isAdmin(c: Caller): boolean {
  return c.roles.has('admin');
}

/** Admins and services (compute coordinators) act on any project's resources. */
export function seesAllProjects(c: Caller): boolean {
  return c.roles.has('admin') || c.roles.has('service');
}
