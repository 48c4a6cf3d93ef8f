/**
 * The consistency checker's comparison: facts in, divergences out, nothing read or written.
 * A volume whose lease a live holder has is in the middle of an operation: its facts may be
 * half-changed by design, so it is listed as busy and not compared (a later check will).
 */
import { giBFromBytes } from '../../../lib/core/gib.js';
import type { Divergence } from './divergence.js';
import type { CheckFacts, DbFacts, DbVolumeFact, HostFact, TreeFact, VolumeStorageFact } from './facts.js';

export interface Comparison {
  divergences: Divergence[];
  /** Volumes skipped because a live holder has their lease. */
  busy: string[];
}

const VOLUME_IN_FLIGHT = new Set(['creating', 'deleting', 'extending', 'reverting']);
const VOLUME_ERROR = new Set(['error', 'error_deleting', 'error_extending']);
const SNAPSHOT_IN_FLIGHT = new Set(['creating', 'deleting', 'restoring']);
const SNAPSHOT_ERROR = new Set(['error', 'error_deleting']);
const RESET = 'check the share by hand, then os-reset_status';

/** Per-volume view of the database facts. */
interface VolumeDb {
  vol: DbVolumeFact | undefined;
  snapshots: DbFacts['snapshots'];
  operations: DbFacts['operations'];
  attachments: DbFacts['attachments'];
}

function dbOf(db: DbFacts, volumeId: string): VolumeDb {
  return {
    vol: db.volumes.find((v) => v.id === volumeId),
    snapshots: db.snapshots.filter((s) => s.volumeId === volumeId),
    operations: db.operations.filter((o) => o.volumeId === volumeId),
    attachments: db.attachments.filter((a) => a.volumeId === volumeId),
  };
}

export function compareFacts(facts: CheckFacts): Comparison {
  const out: Divergence[] = [];
  for (const s of facts.storage.shares) {
    if (!s.mounted) out.push({ code: 'SHARE_UNAVAILABLE', volumeId: null, share: s.address, message: `share ${s.address} is not mounted`, repair: null, action: 'mount the share (restart the service or fix the server), then check again' });
  }
  const leased = new Set(facts.db.leased);
  const ids = new Set<string>([...facts.db.volumes.map((v) => v.id), ...facts.storage.volumes.map((v) => v.volumeId)]);
  const busy: string[] = [];
  for (const id of [...ids].sort()) {
    if (facts.volumeId !== null && id !== facts.volumeId) continue;
    if (leased.has(id)) { busy.push(id); continue; }
    out.push(...compareVolume(id, dbOf(facts.db, id), facts.storage.volumes.find((v) => v.volumeId === id), facts));
  }
  return { divergences: out, busy };
}

function compareVolume(id: string, db: VolumeDb, st: VolumeStorageFact | undefined, facts: CheckFacts): Divergence[] {
  const out: Divergence[] = [];
  for (const op of db.operations) {
    out.push({ code: 'STUCK_OPERATION', volumeId: id, operationId: op.id, ...(op.snapshotId ? { snapshotId: op.snapshotId } : {}), message: `operation ${op.id} (${op.kind}) is running but nobody holds the volume's lease`, repair: 'settle', action: 'run the recovery passes (restart the service, or check --repair)' });
  }
  if (db.vol === undefined) {
    if (st) out.push({ code: 'UNKNOWN_VOLUME', volumeId: id, share: st.share, message: `files of volume ${id} on ${st.share} (${st.names.join(', ')}) have no volume row`, repair: null, action: 'manage the volume, or remove its files by hand once nobody needs them' });
    return out;
  }
  out.push(...statusDivergences(db));
  if (st === undefined) {
    const share = facts.storage.shares.find((s) => s.address === db.vol?.providerLocation);
    const expected = !['creating', 'error'].includes(db.vol.status) && share?.mounted !== false;
    if (expected) out.push({ code: 'MISSING_FILE', volumeId: id, message: `volume ${id} (${db.vol.status}) has no files on any mounted share`, repair: null, action: RESET });
    return out;
  }
  if (db.vol.providerLocation !== null && db.vol.providerLocation !== st.share) {
    out.push({ code: 'LOCATION_MISMATCH', volumeId: id, share: st.share, message: `volume ${id} is recorded on ${db.vol.providerLocation} but its files are on ${st.share}`, repair: null, action: 'correct the volume\'s provider_location' });
  }
  const tree = st.tree;
  if (tree === null || tree === 'foreign' || 'error' in tree) {
    const what = tree === null ? 'has no info file' : tree === 'foreign' ? 'has an info file without our tree (not managed)' : `has an unreadable info file: ${tree.error}`;
    out.push({ code: tree === null ? 'MISSING_FILE' : 'INFO_FILE_CORRUPT', volumeId: id, share: st.share, file: `volume-${id}.info`, message: `volume ${id} ${what}`, repair: null, action: 'restore the info file from the chain (qemu-img info --backing-chain) or manage the volume' });
    return out;
  }
  const attached = db.attachments.length > 0;
  out.push(...treeDivergences(id, db, st, tree, attached));
  out.push(...imageDivergences(id, st, tree, attached));
  out.push(...attachmentDivergences(id, db, tree, facts.storage.hosts.filter((h) => h.volumeId === id), facts.unplugPendingBoundMs));
  return out;
}

function statusDivergences(db: VolumeDb): Divergence[] {
  const out: Divergence[] = [];
  const vol = db.vol as DbVolumeFact;
  const running = db.operations.length > 0;
  if (VOLUME_IN_FLIGHT.has(vol.status) && !running) {
    out.push({ code: 'STATUS_MISMATCH', volumeId: vol.id, message: `volume ${vol.id} is ${vol.status} but no operation runs on it`, repair: null, action: RESET });
  }
  if (VOLUME_ERROR.has(vol.status)) {
    out.push({ code: 'STATUS_MISMATCH', volumeId: vol.id, message: `volume ${vol.id} is ${vol.status}`, repair: null, action: RESET });
  }
  for (const a of db.attachments.filter((x) => x.stale === true)) {
    out.push({
      code: 'ATTACH_UNSETTLED', volumeId: vol.id, message: `attachment ${a.id} (instance ${a.instanceUuid ?? '?'} on ${a.host ?? '?'}) is still attaching: its attach was interrupted`, repair: 'settle',
      action: `the recovery passes settle it with its host; if the host never answers, make sure the guest has no disk of the volume, then DELETE /v3/attachments/${a.id} (or os-complete it if the guest has it)`,
    });
  }
  const attached = db.attachments.some((a) => a.status === 'attached');
  if (vol.status === 'in-use' && db.attachments.length === 0) {
    out.push({ code: 'STATUS_MISMATCH', volumeId: vol.id, message: `volume ${vol.id} is in-use without an attachment`, repair: null, action: 'os-reset_status to available (attach_status detached) once no guest uses it' });
  }
  if (vol.status === 'available' && attached) {
    out.push({ code: 'STATUS_MISMATCH', volumeId: vol.id, message: `volume ${vol.id} is available but attached`, repair: null, action: 'os-reset_status to in-use, or detach the volume' });
  }
  for (const s of db.snapshots) {
    const opOnIt = db.operations.some((o) => o.snapshotId === s.id || o.kind === 'revert_volume');
    if (SNAPSHOT_IN_FLIGHT.has(s.status) && !opOnIt) {
      out.push({ code: 'STATUS_MISMATCH', volumeId: vol.id, snapshotId: s.id, message: `snapshot ${s.id} is ${s.status} but no operation runs on it`, repair: null, action: RESET });
    }
    if (SNAPSHOT_ERROR.has(s.status)) {
      out.push({ code: 'STATUS_MISMATCH', volumeId: vol.id, snapshotId: s.id, message: `snapshot ${s.id} is ${s.status}`, repair: null, action: RESET });
    }
  }
  return out;
}

function treeDivergences(id: string, db: VolumeDb, st: VolumeStorageFact, tree: TreeFact, attached: boolean): Divergence[] {
  const out: Divergence[] = [];
  const vol = db.vol as DbVolumeFact;
  if (tree.intent !== null) {
    out.push({ code: 'UNFINISHED_INTENT', volumeId: id, ...(tree.intent.snapshotId ? { snapshotId: tree.intent.snapshotId } : {}), message: `the info file of volume ${id} records an unfinished ${tree.intent.kind} that nobody is finishing`, repair: 'settle', action: 'run the recovery passes (restart the service, or check --repair)' });
  }
  if (giBFromBytes(tree.sizeBytes) !== vol.sizeGiB && vol.status !== 'extending') {
    out.push({ code: 'SIZE_MISMATCH', volumeId: id, message: `volume ${id} is ${vol.sizeGiB} GiB in the database, ${tree.sizeBytes} bytes in its info file`, repair: null, action: 'extend the volume to the info file\'s size, or correct the row' });
  }
  const noOp = db.operations.length === 0;
  for (const s of db.snapshots) {
    const t = tree.snapshots[s.id];
    if (t === undefined) {
      out.push({ code: 'GHOST_SNAPSHOT', volumeId: id, snapshotId: s.id, message: `snapshot ${s.id} (${s.status}${s.hidden ? ', hidden' : ''}) has a row but the info file does not record it`, repair: noOp ? 'drop_ghost_row' : null, action: 'the row is dropped by check --repair once no operation runs on the volume' });
    } else if (t.hidden !== s.hidden) {
      out.push({ code: 'STATUS_MISMATCH', volumeId: id, snapshotId: s.id, message: `snapshot ${s.id} is ${t.hidden ? '' : 'not '}hidden in the info file but ${s.hidden ? '' : 'not '}hidden in the database`, repair: null, action: 'correct the row\'s hidden flag' });
    }
  }
  const rows = new Set(db.snapshots.map((s) => s.id));
  for (const t of Object.values(tree.snapshots)) {
    if (!rows.has(t.id)) out.push({ code: 'MISSING_SNAPSHOT_ROW', volumeId: id, snapshotId: t.id, file: t.file, message: `the info file records snapshot ${t.id} (file ${t.file}) without a database row`, repair: null, action: 'delete the snapshot through the driver, or recreate its row' });
  }
  const named = new Set<string>([...Object.keys(tree.files), `volume-${id}.info`, ...(tree.intent?.files ?? [])]);
  for (const n of st.names) {
    if (!named.has(n)) out.push({ code: 'ORPHAN_FILE', volumeId: id, share: st.share, file: n, message: `file ${n} of volume ${id} is named by neither its info file nor its intent`, repair: attached ? null : 'remove_orphan', action: attached ? 'detach the volume, then check --repair removes it' : 'removed by check --repair' });
  }
  const present = new Set(st.names);
  for (const f of Object.keys(tree.files)) {
    if (!present.has(f)) out.push({ code: 'MISSING_FILE', volumeId: id, share: st.share, file: f, message: `file ${f} of volume ${id}'s info file is not on ${st.share}`, repair: null, action: 'restore the file from a backup; the chain above it cannot be read' });
  }
  return out;
}

/** The size a file's header must carry: the volume's for the active file, the snapshot's for a snapshot's file. */
function expectedSizes(tree: TreeFact): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const s of Object.values(tree.snapshots)) sizes.set(s.file, s.sizeBytes);
  sizes.set(tree.active, tree.sizeBytes);
  return sizes;
}

function imageDivergences(id: string, st: VolumeStorageFact, tree: TreeFact, attached: boolean): Divergence[] {
  const out: Divergence[] = [];
  const sizes = expectedSizes(tree);
  for (const [file, want] of Object.entries(tree.files)) {
    const img = st.images[file];
    if (img === undefined) continue; // not on the share: MISSING_FILE
    const base = { volumeId: id, share: st.share, file };
    if (img.error !== undefined) {
      out.push({ ...base, code: 'IMAGE_CORRUPT', message: `${file}: ${img.error}`, repair: null, action: 'inspect the file with qemu-img check' });
      continue;
    }
    const diffs: string[] = [];
    if (img.format !== want.format) diffs.push(`format ${img.format}, info file ${want.format}`);
    if (img.backing !== want.backing) diffs.push(`backing ${img.backing ?? 'none'}, info file ${want.backing ?? 'none'}`);
    const size = sizes.get(file);
    if (size !== undefined && img.virtualSize !== size) diffs.push(`size ${img.virtualSize}, info file ${size}`);
    if (diffs.length > 0) out.push({ ...base, code: 'HEADER_MISMATCH', message: `${file}: ${diffs.join('; ')}`, repair: null, action: 'compare the chain with qemu-img info --backing-chain; restore the header or the info file' });
    const c = img.check;
    if (c && (c.corruptions > 0 || c.errors > 0)) {
      out.push({ ...base, code: 'IMAGE_CORRUPT', message: `${file}: qemu-img check: ${c.corruptions} corruptions, ${c.errors} check errors`, repair: null, action: 'copy the data out (qemu-img convert) or restore from a backup; never qemu-img check -r all blindly' });
    } else if (c && c.leaks > 0) {
      out.push({ ...base, code: 'LEAKED_CLUSTERS', message: `${file}: qemu-img check: ${c.leaks} leaked clusters`, repair: attached ? null : 'repair_leaks', action: attached ? 'detach the volume, then check --repair' : 'repaired by check --repair (qemu-img check -r leaks)' });
    }
  }
  return out;
}

/** The chain the info file gives from the active file down (bare names). */
export function expectedChain(tree: TreeFact): string[] {
  const chain: string[] = [];
  let f: string | null = tree.active;
  while (f !== null && !chain.includes(f)) {
    chain.push(f);
    f = tree.files[f]?.backing ?? null;
  }
  return chain;
}

function attachmentDivergences(id: string, db: VolumeDb, tree: TreeFact, hosts: HostFact[], unplugBoundMs: number): Divergence[] {
  const out: Divergence[] = [];
  for (const a of db.attachments) {
    if (a.activeFile !== null && a.activeFile !== tree.active) {
      out.push({ code: 'ATTACHMENT_MISMATCH', volumeId: id, file: a.activeFile, message: `attachment ${a.id} records active file ${a.activeFile}, the info file ${tree.active}`, repair: null, action: 'run the recovery passes; if it stays, compare with the guest\'s definition on its host' });
    }
  }
  const want = expectedChain(tree);
  for (const h of hosts) {
    if ('error' in h) {
      out.push({ code: 'UNREACHABLE_HOST', volumeId: id, message: `coordinator of host ${h.host} (instance ${h.instanceUuid}) did not answer: ${h.error}`, repair: null, action: 'bring the coordinator back, then check again' });
      continue;
    }
    if ('absent' in h) {
      out.push({ code: 'DISK_NOT_IN_GUEST', volumeId: id, message: `instance ${h.instanceUuid} on ${h.host} has no disk of the volume (a detach interrupted after the unplug)`, repair: 'settle', action: 'the recovery passes complete the detach; if it stays, run os-detach' });
      continue;
    }
    // A younger pending unplug is a detach still waiting for its guest (the coordinator waits 60 s).
    if (h.unplugPendingMs !== undefined && h.unplugPendingMs >= unplugBoundMs) out.push(unplugPending(id, h, h.unplugPendingMs));
    const wrong = h.chain.findIndex((f, i) => f !== null && f !== want[i]);
    if (wrong >= 0 || h.chain.length > want.length) {
      out.push({ code: 'ATTACHMENT_MISMATCH', volumeId: id, message: `instance ${h.instanceUuid} on ${h.host} runs on chain ${h.chain.map((f) => f ?? '?').join(' <- ')}; the info file says ${want.join(' <- ')}`, repair: null, action: 'settle the volume with its host (recovery passes), or fix the guest\'s definition' });
    }
  }
  return out;
}

/**
 * The guest was asked to let the disk go and has not (its OS ignores hot-unplug, hangs, or the
 * guest is paused): the volume is still open in QEMU, so nothing is repaired; the next boot has
 * no such disk (it left the definition), which is what lets a reboot end it.
 */
function unplugPending(id: string, h: HostFact, ageMs: number): Divergence {
  return {
    code: 'UNPLUG_PENDING', volumeId: id,
    message: `instance ${h.instanceUuid} on ${h.host} has not released the disk of volume ${id}: an unplug has been pending for ${Math.round(ageMs / 1000)} s (gone from the definition, still in the running guest)`,
    repair: null,
    action: 'retry the detach (the guest OS may accept a second request; a paused guest must run again); else reboot the guest (its definition no longer has the disk), or as a last resort power it off and start it; the detach then completes',
  };
}
