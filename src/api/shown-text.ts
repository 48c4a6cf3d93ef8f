/**
 * A text the service keeps to show its callers (a checkpoint's or an operation's recorded error)
 * passes the one path rule first (core/path-redaction.ts): files named as on their share, never by
 * this host's path. Error answers pass the same rule in the error handler.
 */
import { hostPathRedactor } from '../../lib/core/host-path-roots.js';
import type { ServiceDeps } from './context.js';

export function shownText(deps: Pick<ServiceDeps, 'config'>, text: string): string {
  return hostPathRedactor(deps.config.storage)(text);
}

/** As shownText, for a nullable field. */
export function shownTextOrNull(deps: Pick<ServiceDeps, 'config'>, text: string | null | undefined): string | null | undefined {
  return typeof text === 'string' ? shownText(deps, text) : text;
}
