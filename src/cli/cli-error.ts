/**
 * Errors the CLI reports itself (before or instead of an answer of the service), with stable codes
 * and exit codes scripts can test:
 *   1  the service refused the request (its error code, HTTP status);
 *   2  the command cannot be run as given (USAGE, NAME_NOT_FOUND, NAME_AMBIGUOUS, CONFIRMATION_REQUIRED, INVALID_ARGUMENT);
 *   3  the service cannot be reached (SERVICE_UNREACHABLE).
 */
export type CliErrorCode = 'USAGE' | 'SERVICE_UNREACHABLE' | 'NAME_NOT_FOUND' | 'NAME_AMBIGUOUS' | 'CONFIRMATION_REQUIRED' | 'INVALID_ARGUMENT';

export class CliError extends Error {
  constructor(readonly code: CliErrorCode, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }

  get exitCode(): number {
    return this.code === 'SERVICE_UNREACHABLE' ? 3 : 2;
  }
}

/** The cause fetch hides behind "fetch failed": ECONNREFUSED, ENOTFOUND, a TLS error... */
export function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.message) return cause.code && !cause.message.includes(cause.code) ? `${cause.code}: ${cause.message}` : cause.message;
  return (err as Error).message;
}

export function unreachable(url: string, err: unknown): CliError {
  return new CliError('SERVICE_UNREACHABLE',
    `cannot reach the storage service at ${url}: ${networkCause(err)} (set --url, QCS_URL or OS_VOLUME_API_URL)`, { url });
}
