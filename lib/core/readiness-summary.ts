/**
 * What an anonymous readiness probe gets, from the storage service and the coordinator alike: the
 * overall status and how many checks are in each state. A check's name, details and reason (share
 * addresses, mount points, socket paths, error texts) stay with the callers who may see the host.
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
