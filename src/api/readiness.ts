/**
 * Readiness (GET /readyz), as opposed to liveness (/healthz: the process answers). Each check is
 * listed with its status and, when not ok, the reason:
 *   database: answers a query within DB_TIMEOUT_MS;
 *   each share (driver.checkShares): mounted, writable, not low on space.
 * Overall: down (503) when the database does not answer or no share is usable; degraded (200)
 * when a share is down or low on space but another can take volumes; ready (200) otherwise.
 * The full report names each share's mount point and carries the checks' own error texts: it is
 * an admin's (policy qcowshare:health:detail). Everyone else gets `publicReport`: the same shape,
 * every status and reason, by the API's one rule for what a caller may see of this host's file
 * system (core/path-redaction.ts: a local share's directory becomes "share <name>", no mount
 * point), and the database's reason only when it is one of this module's own texts (a driver's
 * error may name the database server).
 */
import type { ShareCheck } from '../../drivers/contract/volume-driver.js';
import { redactDeep, type Redact } from '../../lib/core/path-redaction.js';
import type { CheckState } from '../../lib/core/readiness-summary.js';
import type { ServiceDeps } from './context.js';

export type CheckStatus = CheckState;
export type Readiness = 'ready' | 'degraded' | 'down';

export interface Check {
  name: string;
  status: CheckStatus;
  reason?: string;
  [detail: string]: unknown;
}

export interface ReadinessReport {
  status: Readiness;
  reasons: string[];
  checks: Check[];
}

export const DB_TIMEOUT_MS = 5000;

/** Pure: the overall answer from the checks (the database is named "database", shares "share:<address>"). */
export function overall(checks: readonly Check[]): ReadinessReport {
  const reasons = checks.filter((c) => c.status !== 'ok').map((c) => `${c.name}: ${c.reason ?? c.status}`);
  const db = checks.find((c) => c.name === 'database');
  const shares = checks.filter((c) => c.name.startsWith('share:'));
  const noShareUsable = shares.length > 0 && shares.every((s) => s.status === 'down');
  const status: Readiness = db?.status === 'down' || noShareUsable ? 'down' : reasons.length > 0 ? 'degraded' : 'ready';
  return { status, reasons, checks: [...checks] };
}

/** The database's reason as this module words it (a timeout); any other is the driver's own text. */
const OWN_DB_REASON = /^no answer within \d+ ms$/;

/** Pure: the report as anyone may see it (the module's comment): no mount point, no host path, the database's own error text withheld. */
export function publicReport(report: ReadinessReport, redact: Redact): ReadinessReport {
  const checks = report.checks.map((c): Check => {
    const { mountPoint: _hidden, ...rest } = c;
    // "share:<address>": the address redacted on its own (a path right after ':' is no path to the redactor).
    const name = c.name.startsWith('share:') ? `share:${redact(c.name.slice('share:'.length))}` : c.name;
    if (c.name !== 'database' || c.reason === undefined || OWN_DB_REASON.test(c.reason)) return { ...redactDeep(rest as Check, redact), name };
    return { ...rest, reason: 'the database does not answer' };
  });
  return overall(checks);
}

async function databaseCheck(deps: ServiceDeps): Promise<Check> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      deps.repos.db.sequelize.query('SELECT 1'),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${DB_TIMEOUT_MS} ms`)), DB_TIMEOUT_MS); }),
    ]);
    return { name: 'database', status: 'ok', dialect: deps.config.db.dialect, latencyMs: Date.now() - started };
  } catch (err) {
    return { name: 'database', status: 'down', dialect: deps.config.db.dialect, reason: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

function shareCheck(s: ShareCheck): Check {
  const { address, status, problem, ...rest } = s;
  return { name: `share:${address}`, status, ...(problem ? { reason: problem } : {}), ...rest };
}

export async function readiness(deps: ServiceDeps): Promise<ReadinessReport> {
  const [db, shares] = await Promise.all([
    databaseCheck(deps),
    deps.driver.checkShares ? deps.driver.checkShares().catch((err: Error): ShareCheck[] => [{ address: '*', type: 'local', status: 'down', mounted: false, writable: false, totalBytes: 0, freeBytes: 0, problem: `share check failed: ${err.message}` }]) : Promise.resolve([]),
  ]);
  return overall([db, ...shares.map(shareCheck)]);
}
