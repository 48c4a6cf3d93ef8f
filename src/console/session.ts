/**
 * The console's session: the API token kept in a cookie the page's scripts cannot read
 * (HttpOnly) and the browser never sends from another site (SameSite=Strict), scoped to /console.
 * Every console request is authenticated by the API's own middleware on that token, so the
 * console has no credential check of its own, and a revoked or expired token ends the session.
 *
 * CSRF: besides SameSite, each state-changing form carries the value of a second cookie
 * (double submit, compared in constant time); a request whose Origin is not this service's is
 * refused before anything is read. Both hold in every worker (no server-side session state).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { StorageError } from '../../lib/core/errors.js';
import type { Authenticate } from '../api/auth.js';

export const TOKEN_COOKIE = 'qcs_console';
export const CSRF_COOKIE = 'qcs_csrf';
/** Credential headers the console never takes from the browser: the cookie is its only credential. */
const CREDENTIAL_HEADERS = ['x-auth-token', 'x-service-token', 'x-user-id', 'x-project-id', 'x-roles'];

export function cookiesOf(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    try {
      out[name] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      // A malformed value is no credential: ignored.
    }
  }
  return out;
}

function cookie(name: string, value: string, secure: boolean, maxAgeS: number | null): string {
  return [`${name}=${encodeURIComponent(value)}`, 'Path=/console', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : []), ...(maxAgeS === null ? [] : [`Max-Age=${maxAgeS}`])].join('; ');
}

export function startSession(req: Request, res: Response, token: string): void {
  res.append('Set-Cookie', cookie(TOKEN_COOKIE, token, req.secure, null));
  res.append('Set-Cookie', cookie(CSRF_COOKIE, randomBytes(24).toString('base64url'), req.secure, null));
}

export function endSession(req: Request, res: Response): void {
  res.append('Set-Cookie', cookie(TOKEN_COOKIE, '', req.secure, 0));
  res.append('Set-Cookie', cookie(CSRF_COOKIE, '', req.secure, 0));
}

export function csrfOf(req: Request): string {
  return cookiesOf(req)[CSRF_COOKIE] ?? '';
}

/** Authenticates `token` exactly as an API request carrying it in X-Auth-Token would be. */
export async function authenticateToken(auth: Authenticate, req: Request, res: Response, token: string): Promise<void> {
  for (const h of CREDENTIAL_HEADERS) delete req.headers[h];
  req.headers['x-auth-token'] = token;
  await auth(req, res, () => undefined);
}

/** Pages after login: the session's caller on req.caller, or a redirect to the login form. */
export function requireSession(auth: Authenticate) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const token = cookiesOf(req)[TOKEN_COOKIE];
    if (!token) return res.redirect(303, '/console/login');
    try {
      await authenticateToken(auth, req, res, token);
    } catch (err) {
      if (!(err instanceof StorageError) || err.code !== 'UNAUTHORIZED') return next(err);
      endSession(req, res);
      return res.redirect(303, '/console/login?expired=1');
    }
    next();
  };
}

/** State-changing requests: same origin, and the form's csrf field equal to the CSRF cookie. */
export function requireCsrf(req: Request, _res: Response, next: NextFunction): void {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `${req.protocol}://${req.headers.host ?? ''}`) {
    return next(new StorageError('FORBIDDEN', `console: a form posted from another origin (${origin})`));
  }
  const expected = Buffer.from(csrfOf(req));
  const sent = Buffer.from(typeof req.body?.csrf === 'string' ? (req.body.csrf as string) : '');
  if (expected.length === 0 || expected.length !== sent.length || !timingSafeEqual(expected, sent)) {
    return next(new StorageError('FORBIDDEN', 'console: the form\'s CSRF token is missing or stale; reload the page'));
  }
  next();
}
