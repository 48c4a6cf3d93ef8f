/**
 * Microversions as numbers ("3.40" → 3, 40; never compared as text: "3.9" < "3.10"), the
 * advertised range, and which version each gated route and action needs (history.ts).
 */
import { HISTORY } from './history.js';

export interface Version { major: number; minor: number }

const FORM = /^([1-9]\d*)\.(0|[1-9]\d*)$/;

export function parseVersion(text: string): Version | null {
  const m = FORM.exec(text);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor;
}

export function versionText(v: Version): string {
  return `${v.major}.${v.minor}`;
}

function must(text: string): Version {
  const v = parseVersion(text);
  if (v === null) throw new Error(`malformed microversion ${text} in the history table`);
  return v;
}

/**
 * The last version up to which every row is served or refused with a reason: one missing row
 * caps the advertised maximum below it.
 */
export function honestMaximum(rows: readonly { version: string; status: string; reason?: string }[]): string {
  let max = rows[0]?.version ?? '3.0';
  for (const row of rows) {
    if (row.status === 'missing' || (row.status === 'refused' && !row.reason)) break;
    max = row.version;
  }
  return max;
}

export const MIN_VERSION = '3.0';
export const MAX_VERSION = honestMaximum(HISTORY);

/** Route keys ("GET /messages") and action names with the version that brought them. */
const ROUTE_SINCE = new Map<string, Version>(HISTORY.flatMap((h) => (h.routes ?? []).map((r) => [r, must(h.version)] as const)));
const ACTION_SINCE = new Map<string, Version>(HISTORY.flatMap((h) => (h.actions ?? []).map((a) => [a, must(h.version)] as const)));

export function routeSince(routeKey: string): Version | undefined {
  return ROUTE_SINCE.get(routeKey);
}

export function actionSince(action: string): Version | undefined {
  return ACTION_SINCE.get(action);
}
