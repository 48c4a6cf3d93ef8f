/**
 * The exact `mount` command lines for remote shares, as pure functions so tests can check them
 * without a kernel client. Arguments are an array (no shell); the address is validated so that a
 * configured value can never be read as an option by mount(8).
 */
import { StorageError } from '../core/errors.js';

/** "host:/path": host name or IPv4 / bracketed IPv6, then an absolute path without spaces or commas. */
const REMOTE_ADDRESS = /^(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]):\/[^\s,]*$/;
/** One mount option: key or key=value, no separators that would split it. */
const MOUNT_OPTION = /^[A-Za-z0-9_.-]+(?:=[^\s,]+)?$/;

export function assertRemoteAddress(address: string, type: string): void {
  if (!REMOTE_ADDRESS.test(address)) {
    throw new StorageError('CONFIG_INVALID', `${type} share address must look like host:/path: ${JSON.stringify(address)}`, {
      details: { address },
    });
  }
}

function checkOptions(options: readonly string[]): void {
  for (const o of options) {
    if (!MOUNT_OPTION.test(o)) {
      throw new StorageError('CONFIG_INVALID', `invalid mount option ${JSON.stringify(o)}`, { details: { option: o } });
    }
  }
}

function withOptions(type: string, options: readonly string[], address: string, mountPoint: string): string[] {
  checkOptions(options);
  const args = ['-t', type];
  if (options.length > 0) args.push('-o', options.join(','));
  args.push(address, mountPoint);
  return args;
}

/**
 * Every host opens a volume's files through its own FUSE client (the storage service, each compute
 * host's QEMU). With the kernel's page cache on such a mount, a client re-reads what it cached
 * even after another client rewrote the file and it reopened it (GlusterFS 10, checked): the
 * storage side would merge or copy stale qcow2 tables of a file a guest wrote. direct-io-mode
 * takes the page cache out of the mount. The kernel's attribute and entry caches (1 s by
 * default) served the size a file had before a running guest's QEMU grew it through another
 * client: the storage side read the new clusters as zeros for up to a second (seen end to end).
 * The GlusterFS caches are the volume's options (README).
 */
export const GLUSTER_COHERENT_OPTIONS: readonly string[] = ['direct-io-mode=enable', 'attribute-timeout=0', 'entry-timeout=0'];

/**
 * Options of a GlusterFS mount: backup volfile servers first (mount.glusterfs syntax), then the
 * rest, then each coherence option the configuration did not set itself.
 * Idempotent (a compute host rebuilds them from the connection info's list).
 */
export function glusterMountOptions(mountOptions: readonly string[], backupVolfileServers: readonly string[]): string[] {
  for (const s of backupVolfileServers) {
    if (!/^[A-Za-z0-9][A-Za-z0-9.-]*$|^\[[0-9A-Fa-f:.]+\]$/.test(s)) {
      throw new StorageError('CONFIG_INVALID', `invalid backup volfile server ${JSON.stringify(s)}`, { details: { server: s } });
    }
  }
  const backup = backupVolfileServers.length > 0 ? [`backup-volfile-servers=${backupVolfileServers.join(':')}`] : [];
  const coherent = GLUSTER_COHERENT_OPTIONS.filter((c) => !mountOptions.some((o) => o.split('=')[0] === c.split('=')[0]));
  return [...backup, ...mountOptions, ...coherent];
}

/** argv of `mount -t glusterfs [-o backup-volfile-servers=a:b,<options>] host:/volume <mp>`. */
export function glusterMountArgs(address: string, mountPoint: string, options: readonly string[]): string[] {
  assertRemoteAddress(address, 'glusterfs');
  return withOptions('glusterfs', options, address, mountPoint);
}

/** argv of `mount -t nfs [-o options] host:/export <mp>`. */
export function nfsMountArgs(address: string, mountPoint: string, options: readonly string[]): string[] {
  assertRemoteAddress(address, 'nfs');
  return withOptions('nfs', options, address, mountPoint);
}
