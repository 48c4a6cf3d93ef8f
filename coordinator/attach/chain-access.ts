/**
 * Before a disk is handed to QEMU: walk the volume's chain from the active file through the
 * headers (in-process inspector, no qemu-img), refuse a backing reference that is not a bare name
 * in the same directory (an absolute path would differ per host, and a foreign file is an
 * attack), and check that the QEMU user (libvirt-qemu on Debian) can read every file and write
 * the active one. A refusal names the files and the fix, rather than a guest that fails to open
 * its disk later (or opens it now and loses access at the next relabel).
 */
import { constants } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../../src/core/errors.js';
import { run } from '../../src/core/process.js';
import { isOwnFileName, volumeIdOfFile } from '../../src/core/volume-names.js';
import { inspectImage } from '../../src/qemu/index.js';

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

/** The chain's bare names, active first. Throws IMAGE_UNSAFE_BACKING / INVALID_STATE. */
export async function checkChainForQemu(dir: string, active: string): Promise<string[]> {
  const ids = await qemuIds();
  const names: string[] = [];
  const problems: string[] = [];
  for (let name: string | undefined = active; name !== undefined; ) {
    if (names.includes(name) || names.length >= MAX_LAYERS) throw new StorageError('IMAGE_UNSAFE_BACKING', `backing chain of ${active} loops or is too deep`);
    names.push(name);
    const file = path.join(dir, name);
    const st = await stat(file).catch(() => null);
    if (st === null) throw new StorageError('INVALID_STATE', `${file} (in the chain of ${active}) does not exist on this host`);
    const want = name === active ? constants.R_OK | constants.W_OK : constants.R_OK;
    if (ids && !allowed(st, ids, want)) problems.push(`${name} (${(st.mode & 0o777).toString(8)} ${st.uid}:${st.gid})`);
    const backing = (await inspectImage(file)).qcow2?.backingFile;
    const volumeId = volumeIdOfFile(active);
    if (backing !== undefined && (volumeId === null || !isOwnFileName(backing, volumeId))) {
      throw new StorageError('IMAGE_UNSAFE_BACKING', `${name} names backing file ${JSON.stringify(backing)}, not a bare name of the same volume`);
    }
    name = backing;
  }
  if (ids) problems.push(...await untraversable(dir, ids));
  if (problems.length > 0) {
    throw new StorageError('INVALID_STATE', `${QEMU_USER} cannot open the chain of ${active}: ${problems.join(', ')} (set storage.fileOwner / fileMode so QEMU can open volume files)`, {
      details: { files: problems },
    });
  }
  return names;
}
