/**
 * The microversion of a request, from `OpenStack-API-Version: volume 3.40` (the cinder client
 * sends it; "latest" is the maximum), answered in the same header. Out of the advertised range:
 * 406 MICROVERSION_UNSUPPORTED naming the range, as Cinder does. A route or action newer than
 * the requested version: MICROVERSION_TOO_LOW (404, as Cinder answers for a method its requested
 * version lacks), naming the version it needs.
 *
 * Unlike Cinder, a request without the header is served at the maximum, not at 3.0: the
 * service's own CLI, the coordinator and older scripts send none and expect what they always got.
 */
import type { NextFunction, Request, Response } from 'express';
import { StorageError } from '../../../lib/core/errors.js';
import { MAX_VERSION, MIN_VERSION, compareVersions, parseVersion, versionText, type Version } from './version.js';

const HEADER = 'openstack-api-version';
const MIN = parseVersion(MIN_VERSION) as Version;
const MAX = parseVersion(MAX_VERSION) as Version;

/** The `volume` entry of the header ("volume 3.40, compute 2.1"), or undefined. */
function volumeEntry(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(',')) {
    const [service, version] = part.trim().split(/\s+/, 2);
    if (service?.toLowerCase() === 'volume') return version ?? '';
  }
  return undefined;
}

export function requestedVersion(req: Request): Version {
  const asked = volumeEntry(req.get(HEADER));
  if (asked === undefined || asked.toLowerCase() === 'latest') return MAX;
  const v = parseVersion(asked);
  if (v === null) throw new StorageError('INVALID_INPUT', `OpenStack-API-Version: "volume ${asked}" is not a version such as 3.40`, { details: { fields: [{ path: 'header.OpenStack-API-Version', message: 'malformed' }] } });
  if (compareVersions(v, MIN) < 0 || compareVersions(v, MAX) > 0) {
    throw new StorageError('MICROVERSION_UNSUPPORTED', `version ${asked} is not supported by the API: minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}`, {
      details: { min_version: MIN_VERSION, max_version: MAX_VERSION },
    });
  }
  return v;
}

/** Negotiates once per request; a refused version still gets the header with the maximum. */
export function negotiateMicroversion(req: Request, res: Response, next: NextFunction): void {
  res.vary('OpenStack-API-Version');
  res.set('OpenStack-API-Version', `volume ${MAX_VERSION}`);
  if (!req.path.startsWith('/v3')) return next();
  try {
    const v = requestedVersion(req);
    res.locals.microversion = v;
    res.set('OpenStack-API-Version', `volume ${versionText(v)}`);
    next();
  } catch (err) {
    next(err);
  }
}

/** Refuses `what` (a route key or "action revert") when the request's version is below `since`. */
export function assertMicroversion(res: Response, since: Version | undefined, what: string): void {
  if (since === undefined) return;
  const asked = (res.locals.microversion as Version | undefined) ?? MAX;
  if (compareVersions(asked, since) >= 0) return;
  throw new StorageError('MICROVERSION_TOO_LOW', `${what} needs microversion ${versionText(since)} or later (OpenStack-API-Version: volume ${versionText(since)}); the request asked for ${versionText(asked)}`, {
    details: { needed: versionText(since), requested: versionText(asked) },
  });
}

/** Whether the request's version (negotiated by the rule above) is `version` or later. */
export function atLeast(req: Request, version: string): boolean {
  return compareVersions(requestedVersion(req), parseVersion(version) as Version) >= 0;
}

/** Refuses `what` (404 MICROVERSION_TOO_LOW, as Cinder answers) when the request asks for a version below `version`. */
export function requireVersion(req: Request, version: string, what: string): void {
  if (atLeast(req, version)) return;
  const asked = versionText(requestedVersion(req));
  throw new StorageError('MICROVERSION_TOO_LOW', `${what} needs microversion ${version} or later (OpenStack-API-Version: volume ${version}); the request asked for ${asked}`, {
    details: { needed: version, requested: asked },
  });
}
