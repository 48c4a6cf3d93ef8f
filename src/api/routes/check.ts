/**
 * The consistency check (extension, admin only):
 *   POST /v3/{project_id}/os-check                      every volume, every share
 *   POST /v3/{project_id}/volumes/{volume_id}/os-check  one volume (with or without a row)
 * Body: {"check": {}} or {"check": {"repair": true}}. Answers 200 with the report; `divergences` is
 * what remains (after the repairs, with repair=true). Synchronous: the check is bounded by the
 * number of files and each qemu-img check's timeout.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { runCheck, type CheckReport } from '../check/run-check.js';
import type { Divergence } from '../check/divergence.js';
import type { RepairOutcome } from '../check/repair.js';
import { looseBool, noQuery, pathIds } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import type { RouteDef } from './route.js';
import { redactDeep, type Redact } from '../../../lib/core/path-redaction.js';
import { shownText } from '../shown-text.js';

/** Required, as an action body is: a request that sends nothing is refused, not taken as a check. */
const checkBody = z.strictObject({ check: z.strictObject({ repair: looseBool.optional() }) });

/**
 * A divergence's message (and a repair's details) quotes the error the check met, which names
 * files by this host's paths: it passes the one rule (shown-text.ts) as error answers do; `share` is the share's address, the
 * name the operator configured (and the pools list).
 */
function divergenceView(d: Divergence, redact: Redact): Record<string, unknown> {
  return {
    code: d.code, volume_id: d.volumeId, snapshot_id: d.snapshotId ?? null, operation_id: d.operationId ?? null,
    file: d.file ?? null, share: d.share ?? null, message: redact(d.message), repair: d.repair, action: d.action ?? null,
  };
}

function repairView(r: RepairOutcome, redact: Redact): Record<string, unknown> {
  return { code: r.code, volume_id: r.volumeId, snapshot_id: r.snapshotId ?? null, file: r.file ?? null, result: r.result, details: redactDeep(r.details, redact) };
}

export function checkView(r: CheckReport, redact: Redact = (t) => t): Record<string, unknown> {
  const view = (d: Divergence) => divergenceView(d, redact);
  return {
    checked_at: r.checkedAt, volume_id: r.volumeId, repair: r.repair, consistent: r.divergences.length === 0,
    divergences: r.divergences.map(view), found: r.found.map(view),
    repairs: r.repairs.map((x) => repairView(x, redact)), settled: r.settled, busy: r.busy,
  };
}

async function handle(deps: ServiceDeps, req: Request, res: Response, volumeId: string | null): Promise<void> {
  parse(noQuery, req.query, 'query');
  scopedProject(req);
  const body = parse(checkBody, req.body, 'body');
  const repair = body.check.repair === true;
  res.json({ check: checkView(await runCheck(deps, { volumeId, repair }), (t) => shownText(deps, t)) });
}

export function checkRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'post', path: '/os-check', versioned: true, policy: 'qcowshare:os_check', status: 200, summary: 'Consistency check of every volume (admin; body {"check": {"repair": bool}})',
      handler: (req, res) => handle(deps, req, res, null),
    },
    {
      method: 'post', path: '/volumes/:volume_id/os-check', versioned: true, policy: 'qcowshare:os_check', status: 200, summary: 'Consistency check of one volume (admin; body {"check": {"repair": bool}})',
      handler: async (req, res) => handle(deps, req, res, parse(pathIds.volume, req.params, 'path').volume_id.toLowerCase()),
    },
  ];
}
