/**
 * Before a disk is handed to QEMU: walk the volume's chain from the active file through the
 * headers (in-process inspector, no qemu-img) with the storage side's image rules
 * (lib/qemu/safety.ts checkImage: each file a regular file of the format its parent records, no
 * external data file, a backing that is a bare name of this volume with an explicit format, no
 * backing larger than the top; an absolute path would differ per host, and a foreign file is an
 * attack), and check that the QEMU user (libvirt-qemu on Debian) can read every file and write
 * the active one. A refusal names the files and the fix, rather than a guest that fails to open
 * its disk later (or opens it now and loses access at the next relabel).
 */
import { constants } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { run } from '../../lib/core/process.js';
import { checkStats } from '../../lib/core/safe-open.js';
import type { ImageFormat } from '../../lib/qemu/formats.js';
import { checkImage } from '../../lib/qemu/safety.js';

const QEMU_USER = 'libvirt-qemu';
const MAX_LAYERS = 256;

interface Ids { uid: number; gids: number[] }

async function qemuIds(): Promise<Ids | null> {
  const u = await run('id', ['-u', QEMU_USER], { allowFailure: true, timeoutMs: 10_000 });
  if (u.exitCode !== 0) return null;
  const g = await run('id', ['-G', QEMU_USER], { timeoutMs: 10_000 });
  return { uid: Number(u.stdout.trim()), gids: g.stdout.trim().split(/\s+/).map(Number) };
}

function allowed(st: { uid: number; gid: number; mode: number }, ids: Ids, want: number): boolean {
  const shift = st.uid === ids.uid ? 6 : ids.gids.includes(st.gid) ? 3 : 0;
  return ((st.mode >> shift) & want) === want;
}

/** The directory and every one above it must let the QEMU user through. */
async function untraversable(dir: string, ids: Ids): Promise<string[]> {
  const out: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (!allowed(await stat(d), ids, constants.X_OK)) out.push(`${d} (directory not traversable)`);
    if (d === path.dirname(d)) return out;
  }
}

/**
 * Every file QEMU opens from `top` down, by its header (checkImage), each looked up without
 * following a symlink. Returns the bare names, top first. Refuses with the IMAGE_* code of what
 * is wrong (FILE_UNSAFE: a symlink, hard link, FIFO, device or directory, safe-open.ts's rule);
 * INVALID_STATE when a file is missing
 * on this host.
 */
export async function verifyChainHeaders(dir: string, volumeId: string, top: string, topFormat: ImageFormat): Promise<string[]> {
  const names: string[] = [];
  const dirDev = (await stat(dir)).dev;
  let format = topFormat;
  let maxSize: number | undefined;
  for (let name: string | undefined = top; name !== undefined; ) {
    if (names.includes(name) || names.length >= MAX_LAYERS) throw new StorageError('IMAGE_UNSAFE_BACKING', `backing chain of ${top} loops or is too deep`, { details: { file: name } });
    names.push(name);
    const file = path.join(dir, name);
    const st = await lstat(file).catch(() => null);
    if (st === null) throw new StorageError('INVALID_STATE', `${file} (in the chain of ${top}) does not exist on this host`);
    checkStats(name, st, dirDev);
    const insp = await checkImage(file, { expectedFormat: format, volumeId, expectedVirtualSize: maxSize });
    // Sizes only grow along a branch: nothing below the top is larger than the top.
    maxSize ??= insp.virtualSize;
    name = insp.qcow2?.backingFile;
    format = insp.qcow2?.backingFormat as ImageFormat;
  }
  return names;
}

/** The chain's bare names, active first. Throws IMAGE_* (checkImage) / INVALID_STATE. */
export async function checkChainForQemu(dir: string, active: string, volumeId: string, format: ImageFormat): Promise<string[]> {
  const ids = await qemuIds();
  const names = await verifyChainHeaders(dir, volumeId, active, format);
  const problems: string[] = [];
  for (const name of names) {
    const st = await stat(path.join(dir, name));
    const want = name === active ? constants.R_OK | constants.W_OK : constants.R_OK;
    if (ids && !allowed(st, ids, want)) problems.push(`${name} (${(st.mode & 0o777).toString(8)} ${st.uid}:${st.gid})`);
  }
  if (ids) problems.push(...await untraversable(dir, ids));
  if (problems.length > 0) {
    throw new StorageError('INVALID_STATE', `${QEMU_USER} cannot open the chain of ${active}: ${problems.join(', ')} (set storage.fileOwner / fileMode so QEMU can open volume files)`, {
      details: { files: problems },
    });
  }
  return names;
}
