/** GlusterFS volume through the FUSE client: `mount -t glusterfs host:/volume <mp>`. */
import { glusterMountArgs, glusterMountOptions } from './mount-args.js';
import { RemoteShare } from './remote-share.js';

export interface GlusterShareOptions {
  address: string;
  mountBase: string;
  mountOptions?: readonly string[];
  /** Servers mount.glusterfs asks for the volume file when the first one is down. */
  backupVolfileServers?: readonly string[];
  timeoutMs?: number;
}

export function glusterShare(o: GlusterShareOptions): RemoteShare {
  return new RemoteShare({
    type: 'glusterfs',
    address: o.address,
    mountBase: o.mountBase,
    mountOptions: glusterMountOptions(o.mountOptions ?? [], o.backupVolfileServers ?? []),
    mountArgs: glusterMountArgs,
    fstypes: ['fuse.glusterfs'],
    timeoutMs: o.timeoutMs,
  });
}
