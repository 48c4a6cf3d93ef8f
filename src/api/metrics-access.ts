/**
 * Who may read GET /metrics: its share gauges are labelled by share address (a local share's is
 * its directory), so the host's layout is in it. With a scrape credential configured
 * (api.metricsTokenFile or QCOWSHARE_METRICS_TOKEN; what production should do, docs/monitoring.md)
 * a scraper presents it as `Authorization: Bearer …` (Prometheus: credentials_file) and an admin
 * may use its X-Auth-Token (policy qcowshare:health:detail); anyone else: 401, or 403 for an
 * authenticated caller without the role. The credential is the operator's, never a value a caller
 * chooses, and it is compared in constant time. Without one the endpoint stays open, as it was
 * before the credential existed, so that scrapers set up then go on working; the service says so
 * in its start log.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Config } from '../../lib/core/config.js';
import { StorageError } from '../../lib/core/errors.js';
import { readSecret } from '../../lib/core/secrets.js';
import { allows, authorize } from './policy.js';

/** Shorter than this, a scrape credential could be guessed: the start is refused. */
export const MIN_SCRAPE_CREDENTIAL = 16;

/** The configured scrape credential, '' when none; read once at start. */
export function scrapeCredential(api: Pick<Config['api'], 'metricsTokenFile'>, env: NodeJS.ProcessEnv = process.env): string {
  const value = readSecret({ name: 'the metrics scrape credential (api.metricsTokenFile)', file: api.metricsTokenFile, envVar: 'QCOWSHARE_METRICS_TOKEN' }, env);
  if (value !== '' && value.length < MIN_SCRAPE_CREDENTIAL) {
    throw new StorageError('CONFIG_INVALID', `the metrics scrape credential (api.metricsTokenFile or QCOWSHARE_METRICS_TOKEN) must have at least ${MIN_SCRAPE_CREDENTIAL} characters`);
  }
  return value;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function bearer(req: Request): string | undefined {
  const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** Throws UNAUTHORIZED or FORBIDDEN unless the request may read the metrics (anyone may when no credential is configured). */
export function assertMetricsReader(req: Request, res: Response, credential: string): void {
  if (credential === '') return;
  const presented = bearer(req);
  if (presented !== undefined && credential !== '' && timingSafeEqual(digest(presented), digest(credential))) return;
  if (req.caller !== undefined && allows(req.caller, 'qcowshare:health:detail')) return;
  if (req.caller !== undefined && req.headers.authorization === undefined) authorize(req.caller, 'qcowshare:health:detail');
  res.setHeader('WWW-Authenticate', 'Bearer realm="qcowshare metrics"');
  if (req.headers.authorization !== undefined) throw new StorageError('UNAUTHORIZED', 'the Authorization header does not carry the scrape credential (api.metricsTokenFile)');
  throw new StorageError('UNAUTHORIZED', 'metrics need the scrape credential (Authorization: Bearer, api.metricsTokenFile) or an admin token (X-Auth-Token)');
}
