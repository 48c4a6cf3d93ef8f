/**
 * The directories of this host whose paths error texts may carry (core/path-redaction.ts): each
 * share's mount point (a local share's directory), the mount base, the lease directory, the temp
 * directory and the working directory the relative defaults resolve against (`var/...`). Derived
 * from the configuration alone, so every process of the service redacts the same way.
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { StorageConfig } from './config.js';
import { pathRedactor, type RedactionRoot, type Redact } from './path-redaction.js';
import { mountPointFor } from './share-hash.js';

export function hostPathRoots(storage: Pick<StorageConfig, 'shares' | 'mountBase' | 'leaseDir'>): RedactionRoot[] {
  // A share is named by its address, as its pool is; a local share's address is a path of this
  // host, so the last part of it names the share then.
  const shares = storage.shares.map((s) => s.type === 'local'
    ? { dir: path.resolve(s.address), label: `share ${path.basename(path.resolve(s.address))}` }
    : { dir: mountPointFor(storage.mountBase, s.address), label: `the mount point of ${s.address}` });
  return [
    ...shares,
    { dir: path.resolve(storage.mountBase), label: 'the mount base' },
    { dir: path.resolve(storage.leaseDir), label: 'the lease directory' },
    { dir: tmpdir(), label: 'the temp directory' },
    { dir: process.cwd(), label: 'the service directory' },
  ];
}

const cache = new WeakMap<object, Redact>();

/** The redactor of a (frozen) storage configuration, made once per configuration object. */
export function hostPathRedactor(storage: Pick<StorageConfig, 'shares' | 'mountBase' | 'leaseDir'>): Redact {
  let r = cache.get(storage);
  if (r === undefined) {
    r = pathRedactor(hostPathRoots(storage));
    cache.set(storage, r);
  }
  return r;
}
