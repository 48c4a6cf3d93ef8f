/**
 * The microversion a request asks for (`OpenStack-API-Version: volume 3.x`, or the older
 * `X-OpenStack-Volume-API-Version: 3.x`); none means 3.0, as in Cinder. Routes that exist from a
 * microversion on answer 404 below it, as Cinder does (its VersionNotFoundForAPIMethod).
 */
import type { Request } from 'express';
import { StorageError } from '../../lib/core/errors.js';
import { MAX_VERSION, MIN_VERSION } from './routes/versions.js';

export interface Microversion { major: number; minor: number }

function parsed(text: string): Microversion | null {
  const m = /^(\d{1,2})\.(\d{1,3})$/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

const cmp = (a: Microversion, b: Microversion) => (a.major - b.major) || (a.minor - b.minor);
const MIN = parsed(MIN_VERSION) as Microversion;
const MAX = parsed(MAX_VERSION) as Microversion;

export function requestedVersion(req: Request): Microversion {
  const header = req.get('openstack-api-version');
  let asked: string | undefined;
  if (header !== undefined) {
    const m = /^\s*volume\s+(\S+)\s*$/i.exec(header);
    asked = m?.[1];
    if (asked === undefined) throw new StorageError('INVALID_INPUT', `OpenStack-API-Version must be "volume <major>.<minor>" (got ${JSON.stringify(header.slice(0, 64))})`);
  } else {
    asked = req.get('x-openstack-volume-api-version');
  }
  if (asked === undefined) return MIN;
  if (asked.toLowerCase() === 'latest') return MAX;
  const v = parsed(asked);
  if (!v) throw new StorageError('INVALID_INPUT', `microversion ${JSON.stringify(asked.slice(0, 32))} is not <major>.<minor>`);
  return v;
}

export function atLeast(req: Request, version: string): boolean {
  return cmp(requestedVersion(req), parsed(version) as Microversion) >= 0;
}

/** 404 below `version`: the resource does not exist at the asked microversion. */
export function requireVersion(req: Request, version: string, what: string): void {
  if (!atLeast(req, version)) {
    const v = requestedVersion(req);
    throw new StorageError('NOT_FOUND', `${what} needs microversion ${version} or later (the request asked ${v.major}.${v.minor}; send OpenStack-API-Version: volume ${version})`, {
      details: { min_version: version },
    });
  }
}
