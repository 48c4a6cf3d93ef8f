/** What every operation module of the RemoteFS driver needs, built once by the driver. */
import type { StorageConfig } from '../../lib/core/config.js';
import type { LeaseManager } from '../../lib/core/lease.js';
import type { Logger } from '../../lib/core/logger.js';
import type { Share } from '../../lib/shares/index.js';
import type { RemoteFsOptions } from './options.js';
import type { FilePerms } from './perms.js';

export interface RemoteFsEnv {
  /** The storage section with this driver's own options (options.ts). */
  storage: Readonly<StorageConfig & RemoteFsOptions>;
  shares: readonly Share[];
  leases: LeaseManager;
  holderId: string;
  log: Logger;
  /** Owner and mode of created files (resolved once: names go through getent). */
  perms(): Promise<FilePerms>;
  /** Seals frozen files' identities (identity-seal.ts); DriverContext.identityKey or this process's own. */
  identityKey: Buffer;
}
