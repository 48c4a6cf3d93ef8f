/** Shares from configuration. */
import type { ShareConfig } from '../core/config.js';
import { glusterShare } from './glusterfs.js';
import { LocalShare } from './local.js';
import { nfsShare } from './nfs.js';
import type { Share } from './share.js';

export type { Share, ShareSpace, ShareType } from './share.js';

export function createShare(cfg: ShareConfig, mountBase: string): Share {
  switch (cfg.type) {
    case 'local':
      return new LocalShare(cfg.address);
    case 'glusterfs':
      return glusterShare({ address: cfg.address, mountBase, mountOptions: cfg.mountOptions, backupVolfileServers: cfg.backupVolfileServers });
    case 'nfs':
      return nfsShare({ address: cfg.address, mountBase, mountOptions: cfg.mountOptions });
  }
}
