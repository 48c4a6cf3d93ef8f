/**
 * Leaked clusters after an interrupted merge (issue 12, case 5). A qemu-img commit or copy killed
 * half-way has allocated clusters (refcounts written) whose L2 entries never landed; the re-run
 * that rolls the merge forward allocates fresh ones, so the first ones stay allocated for ever:
 * space never given back (`qemu-img check` exits 3). Reconcile repairs them in the file the killed
 * copy wrote, while it holds the volume's lease (nobody else opens the file then).
 *
 * Only `-r leaks`, never `-r all`: freeing clusters no table references is always safe; a
 * corruption is reported, not "fixed" by guesswork. The file is opened through a json: view
 * without its backing, so the chain below is not opened (and not locked).
 */
import { StorageError } from '../../../lib/core/errors.js';
import { parseCheck } from '../../../lib/qemu/img-check.js';
import { SCAN_LIMITS, qemuImg } from '../../../lib/qemu/tool.js';
import type { VolumeLocation } from './location.js';
import { jsonName, type Layer } from '../../../lib/qemu/img-target.js';

/** Exit codes of qemu-img check: 0 consistent (now), 2 corrupted, 3 leaks left. */
const REPORTED = new Set([0, 2, 3]);

export interface LeakRepair {
  file: string;
  /** Leaked clusters before the repair. */
  repaired: number;
  /** Corruptions found (not repaired). */
  corruptions: number;
}

export async function repairLeaks(loc: VolumeLocation, layer: Layer): Promise<LeakRepair> {
  if (layer.format !== 'qcow2') return { file: layer.file, repaired: 0, corruptions: 0 };
  const r = await qemuImg(['check', '-r', 'leaks', '--output=json', jsonName(loc.dir, [layer])], { limits: SCAN_LIMITS, allowFailure: true });
  if (!REPORTED.has(r.exitCode)) {
    throw new StorageError('PROCESS_FAILED', `${r.command}: exit code ${r.exitCode}: ${r.stderr.trim()}`, {
      details: { command: r.command, exitCode: r.exitCode, stderr: r.stderr.trim().slice(0, 4000) },
    });
  }
  // With -r, qemu-img reports the state after the repair and "leaks-fixed" for what it freed.
  const c = parseCheck(r.stdout, layer.file);
  const fixed = /"leaks-fixed":\s*(\d+)/.exec(r.stdout);
  return { file: layer.file, repaired: fixed ? Number(fixed[1]) : 0, corruptions: c.corruptions };
}
