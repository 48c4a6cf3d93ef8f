/**
 * A project's quota: its limits (its own where an admin set them, else the configuration's
 * `quotas`), what it uses, and the check that runs inside a create's transaction.
 */
import type { Transaction } from 'sequelize';
import { QUOTA_RESOURCES, type QuotaNumbers } from '../../../db/repositories/quotas.js';
import type { ServiceDeps } from '../../context.js';
import { firstExceeded, overQuota } from './over-limit.js';

export function defaultLimits(deps: ServiceDeps): QuotaNumbers {
  const q = deps.config.quotas;
  return { volumes: q.volumes, snapshots: q.snapshots, gigabytes: q.gigabytes };
}

/** `t`: inside a transaction, on its connection (a second connection per create could exhaust the pool: every create would hold one and wait for another). */
export async function limitsOf(deps: ServiceDeps, projectId: string, t?: Transaction): Promise<QuotaNumbers> {
  const own = await deps.repos.quotas.limitsOf(projectId, t);
  const out = defaultLimits(deps);
  for (const r of QUOTA_RESOURCES) out[r] = own[r] ?? out[r];
  return out;
}

/** Before the transaction that calls checkQuota: the project's lock row exists. */
export function prepareQuota(deps: ServiceDeps, projectId: string): Promise<void> {
  return deps.repos.quotas.ensureLockRow(projectId);
}

/**
 * Inside the transaction that inserts the rows the request is for, before inserting them: the
 * project's lock row is held to the commit, so a concurrent create (any process) counts after
 * this one's rows are in, or before it started. Throws OVER_QUOTA (nothing is written).
 */
export async function checkQuota(deps: ServiceDeps, projectId: string, request: Partial<QuotaNumbers>, t: Transaction): Promise<void> {
  const limits = await limitsOf(deps, projectId, t);
  await deps.repos.quotas.lockProject(projectId, t);
  const exceeded = firstExceeded(limits, await deps.repos.quotas.usageOf(projectId, t), request);
  if (exceeded) throw overQuota(projectId, exceeded);
}
