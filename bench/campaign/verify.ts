/**
 * The invariants checked after every fault: the seam where the consistency checker (issue 12
 * item 3) plugs in later. `waitConverged` polls until nothing is in flight (bounded); `verify`
 * then compares the database rows, the info file and the share's listing, runs `qemu-img check`
 * on every file and reads every snapshot point and the active file back with qemu-io.
 */
import path from 'node:path';
import { run } from '../../lib/core/process.js';
import { QEMU_IMG } from '../../lib/qemu/tool.js';
import { until, type Api } from './api.js';
import { verifyImage, type Image } from './image-model.js';
import { entriesOf, readInfo } from './share-files.js';

export const CONVERGE_BOUND_MS = 90_000;

export interface VolumeExpectation {
  vid: string;
  /** What the active file reads; null: the volume's create failed (status error, no file left) or it is deleted. */
  active: Image | null;
  sizeGiB: number | null;
  /** Snapshot points; `mayBeGone` for the one an operation deleted (or that a failed create never made). */
  snapshots: { id: string; image: Image; mayBeGone: boolean }[];
  /** The statuses the volume may settle in (default: available; an attached volume also in-use). */
  statuses?: string[];
  /**
   * Reads the active image instead of qemu-io on the host (throws on a mismatch); null: read on
   * the host. A running guest's QEMU keeps qcow2 metadata in memory until its next flush, so the
   * active file of an attached volume is read by the guest (what it sees), its frozen points on
   * the host.
   */
  readActive?: (image: Image) => Promise<'read' | 'host'>;
}

export interface Findings {
  /** Divergences between DB, info file and share (ghosts, unknown snapshots, stuck statuses). */
  divergences: string[];
  /** Files on the share that the info file does not name. */
  orphans: string[];
  /** `qemu-img check` exit 3 (leaked clusters). */
  leaks: string[];
  /** A point or the active file that does not read back its bytes, a snapshot lost, corruption. */
  dataLoss: string[];
}

/** creating, deleting, extending, reverting, restoring...; an `error_*` status is not in flight (verify reports it). */
const transitional = (status: string) => status.endsWith('ing') && !status.startsWith('error');

interface Listed { id: string; status: string }

async function volumeOf(api: Api, vid: string): Promise<{ status: string; size: number } | null> {
  const r = await api.call('GET', `/v3/volumes/${vid}`, undefined, 'admin');
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error(`GET volume ${vid}: ${r.status}`);
  return r.body.volume as { status: string; size: number };
}

async function snapshotsOf(api: Api, vid: string): Promise<Listed[]> {
  const r = await api.ok('GET', `/v3/snapshots?volume_id=${vid}&include_hidden=true&all_tenants=true`, undefined, 'admin');
  return r.body.snapshots as Listed[];
}

/** What is still in flight on the volumes: running operations, transitional statuses, intents ([] once settled). */
export async function unsettled(api: Api, share: string, vids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const vid of vids) {
    const ops = await api.ok('GET', `/v3/operations?volume_id=${vid}&state=running&all_tenants=true`, undefined, 'admin');
    for (const op of ops.body.operations as { id: string; kind: string }[]) out.push(`volume ${vid}: operation ${op.kind} ${op.id} running`);
    const v = await volumeOf(api, vid);
    if (v !== null && transitional(v.status)) out.push(`volume ${vid}: ${v.status}`);
    for (const s of await snapshotsOf(api, vid)) if (transitional(s.status)) out.push(`volume ${vid}: snapshot ${s.id} ${s.status}`);
    const info = await readInfo(share, vid);
    if (info !== null && info.qcowshare.intent !== null) out.push(`volume ${vid}: intent ${info.qcowshare.intent.kind} at ${info.qcowshare.intent.step}${info.qcowshare.intent.committed ? ' (committed)' : ''}`);
  }
  return out;
}

/** Waits until settled; resolves with the time taken, or null when the bound passed. `api` is read anew each poll (a restart changes it). */
export async function waitConverged(api: () => Api, share: string, vids: string[], since: number, boundMs = CONVERGE_BOUND_MS): Promise<number | null> {
  try {
    await until('convergence', async () => ((await unsettled(api(), share, vids)).length === 0 ? true : undefined), boundMs - (Date.now() - since), 250);
    return Date.now() - since;
  } catch {
    return null;
  }
}

async function qemuImgCheck(file: string): Promise<number> {
  const r = await run(QEMU_IMG, ['check', '-U', '-f', 'qcow2', file], { allowFailure: true, timeoutMs: 120_000 });
  return r.exitCode ?? -1;
}

async function virtualSize(file: string): Promise<number> {
  const r = await run(QEMU_IMG, ['info', '-U', '--output=json', file], { timeoutMs: 60_000 });
  return (JSON.parse(r.stdout) as { 'virtual-size': number })['virtual-size'];
}

export async function verify(api: Api, share: string, expected: VolumeExpectation[]): Promise<Findings> {
  const f: Findings = { divergences: [], orphans: [], leaks: [], dataLoss: [] };
  for (const e of expected) {
    const tag = `volume ${e.vid}`;
    const v = await volumeOf(api, e.vid);
    const info = await readInfo(share, e.vid);
    const entries = await entriesOf(share, e.vid);
    if (e.active === null) {
      if (v !== null && v.status !== 'error') f.divergences.push(`${tag}: status ${v.status}, expected error or deleted`);
      if (entries.length > 0) f.orphans.push(...entries.map((n) => `${tag}: ${n}`));
      continue;
    }
    if (v === null) { f.dataLoss.push(`${tag}: gone`); continue; }
    if (!(e.statuses ?? ['available']).includes(v.status)) f.divergences.push(`${tag}: status ${v.status}`);
    if (info === null) { f.dataLoss.push(`${tag}: no info file`); continue; }
    const tree = info.qcowshare;
    if (tree.intent !== null) f.divergences.push(`${tag}: intent ${tree.intent.kind} left`);
    const named = new Set([`volume-${e.vid}.info`, ...Object.keys(tree.files)]);
    for (const n of entries) if (!named.has(n)) f.orphans.push(`${tag}: ${n}`);
    for (const n of Object.keys(tree.files)) {
      if (!entries.includes(n)) { f.dataLoss.push(`${tag}: ${n} named by the info file is missing`); continue; }
      const rc = await qemuImgCheck(path.join(share, n));
      if (rc === 3) f.leaks.push(`${tag}: ${n} has leaked clusters`);
      else if (rc !== 0) f.dataLoss.push(`${tag}: qemu-img check ${n} exit ${rc}`);
    }
    const active = path.join(share, tree.active);
    if (v.size * 1024 ** 3 !== await virtualSize(active)) f.divergences.push(`${tag}: DB size ${v.size} GiB, active file ${await virtualSize(active)} bytes`);
    if (e.sizeGiB !== null && v.size !== e.sizeGiB) f.divergences.push(`${tag}: size ${v.size} GiB, expected ${e.sizeGiB}`);
    const expectedActive = e.active;
    const readBy = e.readActive ? await e.readActive(expectedActive).catch((err: Error) => { f.dataLoss.push(`${tag}: active image (read in the guest): ${err.message}`); return 'read' as const; }) : 'host';
    if (readBy === 'host') await verifyImage(active, expectedActive).catch((err: Error) => f.dataLoss.push(`${tag}: active file: ${err.message}`));
    const rows = await snapshotsOf(api, e.vid);
    const mayBeGone = new Set(e.snapshots.filter((s) => s.mayBeGone).map((s) => s.id));
    for (const s of rows) {
      // A snapshot whose create failed may stay as an `error` row with no file (Cinder's shape), nothing else.
      if (s.status === 'error' && mayBeGone.has(s.id) && tree.snapshots[s.id] === undefined) continue;
      if (s.status !== 'available') f.divergences.push(`${tag}: snapshot ${s.id} ${s.status}`);
      if (tree.snapshots[s.id] === undefined) f.divergences.push(`${tag}: ghost snapshot ${s.id} (row, no info entry)`);
    }
    for (const s of Object.values(tree.snapshots)) {
      if (!s.hidden && !rows.some((r) => r.id === s.id)) f.divergences.push(`${tag}: snapshot ${s.id} in the info file has no row`);
    }
    for (const s of e.snapshots) {
      const point = tree.snapshots[s.id];
      const row = rows.find((r) => r.id === s.id && r.status === 'available');
      if (row === undefined || point === undefined) {
        if (!s.mayBeGone) f.dataLoss.push(`${tag}: snapshot ${s.id} lost`);
        continue;
      }
      await verifyImage(path.join(share, point.file), s.image).catch((err: Error) => f.dataLoss.push(`${tag}: snapshot ${s.id}: ${err.message}`));
    }
  }
  return f;
}
