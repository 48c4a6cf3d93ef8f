/** Everything a use case may touch, built once per service instance (no module-level state). */
import type { Config } from '../../lib/core/config.js';
import type { Logger } from '../../lib/core/logger.js';
import type { Repositories } from '../db/index.js';
import type { HostedDriver } from '../../drivers/contract/hosted-driver.js';
import type { Metrics } from './metrics.js';
import { allows, type Caller } from './policy.js';
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

export type { Caller, Role } from './policy.js';

export function isAdmin(c: Caller): boolean {
  return c.roles.has('admin');
}

/** Admins and services (compute coordinators) act on any project's resources (policy qcowshare:cross_project). */
export function seesAllProjects(c: Caller): boolean {
  return allows(c, 'qcowshare:cross_project');
}
