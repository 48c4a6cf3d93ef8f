/**
 * Owner and mode of the files the driver creates, so that QEMU (user libvirt-qemu on Debian) can
 * open them on the compute host. `storage.fileOwner` is "user:group" (names resolved through NSS
 * with getent) or numeric "uid:gid"; null leaves files as created (e.g. NFS with root squash,
 * or a Gluster volume with storage.owner-uid/gid set).
 */
import { StorageError } from '../../lib/core/errors.js';
import { run } from '../../lib/core/process.js';
import { setOwnerAndMode } from '../../lib/core/safe-open.js';

export interface FilePerms {
  mode: number;
  owner: { uid: number; gid: number } | null;
}

export function parseMode(mode: string): number {
  if (!/^0?[0-7]{3}$/.test(mode)) throw new StorageError('CONFIG_INVALID', `storage.fileMode must be octal like 0660: ${mode}`);
  return parseInt(mode, 8);
}

/** Split "user:group"; each part is a name or a number. */
export function splitOwner(owner: string): { user: string; group: string } {
  const m = /^([A-Za-z0-9_][A-Za-z0-9_.-]*\$?):([A-Za-z0-9_][A-Za-z0-9_.-]*\$?)$/.exec(owner);
  if (!m?.[1] || !m[2]) throw new StorageError('CONFIG_INVALID', `storage.fileOwner must be user:group or uid:gid: ${owner}`);
  return { user: m[1], group: m[2] };
}

async function resolveId(database: 'passwd' | 'group', name: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  const r = await run('getent', [database, name], { allowFailure: true, timeoutMs: 10_000 });
  const id = r.exitCode === 0 ? r.stdout.split(':')[2] : undefined;
  if (id === undefined || !/^\d+$/.test(id)) {
    throw new StorageError('CONFIG_INVALID', `storage.fileOwner: no ${database === 'passwd' ? 'user' : 'group'} named ${name}`);
  }
  return Number(id);
}

export async function resolvePerms(fileOwner: string | null, fileMode: string): Promise<FilePerms> {
  const mode = parseMode(fileMode);
  if (fileOwner === null) return { mode, owner: null };
  const { user, group } = splitOwner(fileOwner);
  return { mode, owner: { uid: await resolveId('passwd', user), gid: await resolveId('group', group) } };
}

/**
 * Through a checked descriptor (fchown/fchmod), never by path: a hard link or symlink planted
 * under a volume's name would otherwise hand its target's inode to chmod (issue 11, reproduction 2).
 */
export async function applyPerms(file: string, perms: FilePerms): Promise<void> {
  await setOwnerAndMode(file, perms.mode, perms.owner);
}
