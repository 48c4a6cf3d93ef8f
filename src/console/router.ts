/**
 * The web console, mounted by the storage service under /console (api.console, default on).
 * Server-rendered pages; the API's authentication (session.ts) and policy (data.ts, actions.ts).
 * Every answer carries a CSP that allows only this service's own script, style and forms.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { StorageError, toStorageError } from '../../lib/core/errors.js';
import { hostPathRedactor } from '../../lib/core/host-path-roots.js';
import type { Authenticate } from '../api/auth.js';
import { callerOf } from '../api/auth.js';
import type { ServiceDeps } from '../api/context.js';
import { allows } from '../api/policy.js';
import { operationView } from '../api/views/operation-view.js';
import { uuid } from '../api/validation/common.js';
import { deleteSnapshotAction, deleteVolumeAction, extendAction, revertAction, snapshotAction, type ActionOutcome } from './actions.js';
import { liveProgress, operationsPage, systemPage, volumePage, volumeRows } from './data.js';
import { confirmBody, errorBody, loginBody, operationsBody, page, systemBody, volumeBody, volumesBody } from './pages.js';
import { parseVolumeListQuery } from './volume-list-query.js';
import { authenticateToken, csrfOf, endSession, requireCsrf, requireSession, startSession } from './session.js';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

// Referrer-Policy same-origin, not no-referrer: under no-referrer Chromium sends "Origin: null"
// with the console's own form posts, and the CSRF check could no longer tell them from another site's.

/** The two static files, read once at start (they ship next to this module, in the source and in dist/). */
const STATIC: Record<string, { type: string; body: string }> = {
  'console.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('./static/console.js', import.meta.url), 'utf8') },
  'console.css': { type: 'text/css; charset=utf-8', body: readFileSync(new URL('./static/console.css', import.meta.url), 'utf8') },
};

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'same-origin', 'X-Frame-Options': 'DENY', 'Cache-Control': 'no-store',
  });
  next();
}

type Handler = (req: Request, res: Response) => Promise<void>;
const wrap = (fn: Handler) => (req: Request, res: Response, next: NextFunction): void => { fn(req, res).catch(next); };

function uuidOf(value: unknown, name: string): string {
  const r = uuid.safeParse(value);
  if (!r.success) throw new StorageError('INVALID_INPUT', `${name} must be a UUID`);
  return r.data;
}
const idParam = (req: Request, name: string): string => uuidOf(req.params[name], name);

/** The console's forms post application/x-www-form-urlencoded (the API takes JSON only). */
export function isConsoleForm(req: IncomingMessage): boolean {
  return req.method === 'POST' && (req.url ?? '').startsWith('/console/');
}

export function consoleRouter(deps: ServiceDeps, auth: Authenticate): Router {
  const r = express.Router();
  r.use(securityHeaders);
  r.use(express.urlencoded({ extended: false, limit: '16kb' }));
  const send = (req: Request, res: Response, title: string, body: string, current?: 'volumes' | 'operations' | 'system') => {
    res.type('html').send(page({ title, caller: req.caller ?? null, csrf: csrfOf(req), body, current }));
  };

  r.get('/static/:file', (req, res) => {
    const file = req.params.file ?? '';
    // Own keys only: `constructor` must not find Object.prototype's member.
    const f = Object.hasOwn(STATIC, file) ? STATIC[file] : undefined;
    if (!f) return void res.status(404).type('text').send('not found');
    res.set('Cache-Control', 'no-cache').type(f.type).send(f.body);
  });
  r.get('/login', (req, res) => send(req, res, 'Log in', loginBody(req.query.expired ? 'Your session ended (the token expired or was revoked): log in again.' : null)));
  r.post('/login', wrap(async (req, res) => {
    const token = typeof req.body?.token === 'string' ? (req.body.token as string).trim() : '';
    try {
      if (token === '' || token.length > 8192) throw new StorageError('UNAUTHORIZED', 'no token given');
      await authenticateToken(auth, req, res, token);
    } catch (err) {
      const e = toStorageError(err);
      if (e.code !== 'UNAUTHORIZED') throw e;
      res.status(401);
      return send(req, res, 'Log in', loginBody(`The token was refused: ${e.message}`));
    }
    startSession(req, res, token);
    res.redirect(303, '/console/volumes');
  }));
  r.post('/logout', requireCsrf, (req, res) => {
    endSession(req, res);
    res.redirect(303, '/console/login');
  });

  const session = requireSession(auth);
  r.get('/', session, (_req, res) => res.redirect(303, '/console/volumes'));
  r.get('/volumes', session, wrap(async (req, res) => {
    const caller = callerOf(req);
    const q = parseVolumeListQuery(req.query);
    send(req, res, 'Volumes', volumesBody(await volumeRows(deps, caller, q), q, allows(caller, 'qcowshare:cross_project')), 'volumes');
  }));
  r.get('/volumes/:volume_id', session, wrap(async (req, res) => {
    const caller = callerOf(req);
    const selected = req.query.snapshot === undefined ? null : uuidOf(req.query.snapshot, 'snapshot');
    const p = await volumePage(deps, caller, idParam(req, 'volume_id'), selected);
    send(req, res, `Volume ${p.row.volume.name ?? p.row.volume.id}`, volumeBody(p, csrfOf(req), allows(caller, 'volume:create_snapshot')), 'volumes');
  }));
  r.get('/operations', session, wrap(async (req, res) => send(req, res, 'Operations', operationsBody(await operationsPage(deps, callerOf(req))), 'operations')));
  // For console.js: running and recent operations, as the API's operation view, and checkpoints' progress.
  r.get('/operations.json', session, wrap(async (req, res) => {
    const live = await liveProgress(deps, callerOf(req));
    res.json({
      operations: live.operations.map(operationView),
      checkpoints: live.checkpoints.map((c) => ({ id: c.id, status: c.status, progress: c.status === 'available' ? 100 : c.progress, error: c.status === 'error' ? c.error : null })),
    });
  }));
  r.get('/system', session, wrap(async (req, res) => send(req, res, 'Capacity and health', systemBody(await systemPage(deps, callerOf(req))), 'system')));

  const action = (run: (req: Request) => Promise<ActionOutcome>) => wrap(async (req, res) => {
    const out = await run(req);
    if (out.kind === 'done') return res.redirect(303, out.redirect);
    send(req, res, out.title, confirmBody(out.question, out.warnings, req.originalUrl, out.fields, csrfOf(req), out.back));
  });
  r.post('/volumes/:volume_id/snapshot', session, requireCsrf, action((req) => snapshotAction(deps, callerOf(req), req, idParam(req, 'volume_id'))));
  r.post('/volumes/:volume_id/revert', session, requireCsrf, action((req) => revertAction(deps, callerOf(req), req, idParam(req, 'volume_id'))));
  r.post('/volumes/:volume_id/extend', session, requireCsrf, action((req) => extendAction(deps, callerOf(req), req, idParam(req, 'volume_id'))));
  r.post('/volumes/:volume_id/delete', session, requireCsrf, action((req) => deleteVolumeAction(deps, callerOf(req), req, idParam(req, 'volume_id'))));
  r.post('/snapshots/:snapshot_id/delete', session, requireCsrf, action((req) => deleteSnapshotAction(deps, callerOf(req), req, idParam(req, 'snapshot_id'))));

  r.use((req: Request, res: Response) => { res.status(404); send(req, res, 'Not found', errorBody('NOT_FOUND', `no console page ${req.path}`)); });
  // Errors as a page with the API's stable code and status (a member asking for another project's volume: 404, as in the API).
  r.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = toStorageError(err);
    if (e.httpStatus >= 500) deps.log.error({ err: e, path: req.path }, 'console page failed');
    res.status(e.httpStatus);
    send(req, res, 'Error', errorBody(e.code, hostPathRedactor(deps.config.storage)(e.message)));
  });
  return r;
}
