/** The data layer as the API sees it: one bundle of repositories and the lease manager. */
import type { Config } from '../../lib/core/config.js';
import { openDatabase, type Database } from './connection.js';
import { DbLeaseManager } from './db-lease.js';
import { migrate } from './migrate.js';
import type { Logger } from '../../lib/core/logger.js';
import { AttachmentRepository } from './repositories/attachments.js';
import { CheckpointRepository } from './repositories/checkpoints.js';
import { ComputeHostRepository } from './repositories/compute-hosts.js';
import { OperationRepository } from './repositories/operations.js';
import { ServiceSecretRepository } from './repositories/service-secrets.js';
import { SnapshotRepository } from './repositories/snapshots.js';
import { UserMessageRepository } from './repositories/user-messages.js';
import { VolumeRepository } from './repositories/volumes.js';
import { VolumeTypeRepository } from './repositories/volume-types.js';
import { QuotaRepository } from './repositories/quotas.js';

export interface Repositories {
  db: Database;
  volumes: VolumeRepository;
  snapshots: SnapshotRepository;
  attachments: AttachmentRepository;
  operations: OperationRepository;
  computeHosts: ComputeHostRepository;
  secrets: ServiceSecretRepository;
  checkpoints: CheckpointRepository;
  userMessages: UserMessageRepository;
  volumeTypes: VolumeTypeRepository;
  quotas: QuotaRepository;
  leases: DbLeaseManager;
}

export function repositories(db: Database): Repositories {
  return {
    db,
    volumes: new VolumeRepository(db),
    snapshots: new SnapshotRepository(db),
    attachments: new AttachmentRepository(db),
    operations: new OperationRepository(db),
    computeHosts: new ComputeHostRepository(db),
    secrets: new ServiceSecretRepository(db),
    checkpoints: new CheckpointRepository(db),
    userMessages: new UserMessageRepository(db),
    volumeTypes: new VolumeTypeRepository(db),
    quotas: new QuotaRepository(db),
    leases: new DbLeaseManager(db),
  };
}

/** Open, migrate, and wrap: what `serve` and the tests call. */
export async function openRepositories(config: Config['db'], log?: Logger): Promise<Repositories> {
  const db = await openDatabase(config);
  const applied = await migrate(db);
  // Not silent: an upgrade's schema change shows in the log of the start that made it.
  if (applied.length > 0) log?.info({ applied }, 'database schema migrated');
  return repositories(db);
}

export type { Database } from './connection.js';
export * from './records.js';
export type { ComputeHostRecord, CoordinatorAddress } from './repositories/compute-hosts.js';
export type { CheckpointMember, CheckpointRow, CheckpointRowStatus, HostMove } from './repositories/checkpoints.js';
