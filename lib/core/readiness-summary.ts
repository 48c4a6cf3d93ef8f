/**
 * What an anonymous readiness probe of the coordinator gets: the overall status and how many
 * checks are in each state; a check's name, details and reason (socket paths, error texts) stay
 * with the callers who hold its token. The storage service answers anyone every check with the
 * host's paths redacted instead (src/api/readiness.ts publicReport); both share CheckState.
 */
export type CheckState = 'ok' | 'degraded' | 'down';

export interface ReadinessSummary<S extends string> {
  status: S;
  checks: { total: number } & Record<CheckState, number>;
}

/** Pure: the status and the counts of `checks` by state. */
export function readinessSummary<S extends string>(status: S, checks: readonly { status: CheckState }[]): ReadinessSummary<S> {
  const count = (s: CheckState) => checks.filter((c) => c.status === s).length;
  return { status, checks: { total: checks.length, ok: count('ok'), degraded: count('degraded'), down: count('down') } };
}
