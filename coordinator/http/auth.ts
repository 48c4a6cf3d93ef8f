/**
 * Only the storage side's service may call the coordinator: every request (except /healthz)
 * carries X-Auth-Token equal to the configured service token, compared in constant time. An
 * empty configured token refuses everything rather than letting everyone in.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { StorageError } from '../../lib/core/errors.js';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (!given || expected.length === 0) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

export function requireServiceToken(expected: string) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const given = req.get('x-auth-token');
    if (!given) return next(new StorageError('UNAUTHORIZED', 'X-Auth-Token is required'));
    if (!tokenMatches(given, expected)) return next(new StorageError('FORBIDDEN', 'only the storage service may call the coordinator'));
    next();
  };
}
