/**
 * Where a share is mounted: `<mountBase>/<md5 hex of the share address>`, exactly as Cinder's
 * RemoteFS drivers and Nova's libvirt volume drivers compute it (os-brick's _get_hash_str: md5 of
 * the UTF-8 address). Every host derives the same directory name from the address alone, so the
 * storage service, the compute coordinator and a Cinder/Nova host agree on where a file lives.
 * md5 is used as a name, not for security.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';

/** md5 hex of the share address as given (no normalisation: Cinder hashes the configured string). */
export function shareHash(address: string): string {
  return createHash('md5').update(address, 'utf8').digest('hex');
}

/** Absolute mount point of a remote share under `mountBase` (resolved against the working directory). */
export function mountPointFor(mountBase: string, address: string): string {
  return path.join(path.resolve(mountBase), shareHash(address));
}
