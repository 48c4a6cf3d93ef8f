/** NFS export through the kernel client: `mount -t nfs host:/export <mp>`. */
import { nfsMountArgs } from './mount-args.js';
import { RemoteShare } from './remote-share.js';

export interface NfsShareOptions {
  address: string;
  mountBase: string;
  mountOptions?: readonly string[];
  timeoutMs?: number;
}

export function nfsShare(o: NfsShareOptions): RemoteShare {
  return new RemoteShare({
    type: 'nfs',
    address: o.address,
    mountBase: o.mountBase,
    mountOptions: [...(o.mountOptions ?? [])],
    mountArgs: nfsMountArgs,
    // mount -t nfs negotiates the version; /proc/mounts then says nfs (v2/v3) or nfs4.
    fstypes: ['nfs', 'nfs4'],
    timeoutMs: o.timeoutMs,
  });
}
