/** Public surface of the libvirt client. */
export { LibvirtConnection, DEFAULT_SOCKET_PATH, DEFAULT_URI, type ConnectOptions } from './client.js';
export * from './constants.js';
export { type DomainRef, uuidToBytes, bytesToUuid } from './domain-ref.js';
export * from './errors.js';
export {
  DomainEvents, decodeDomainEvent,
  type DomainEvent, type LifecycleEvent, type BlockJobEvent, type AgentLifecycleEvent,
} from './events.js';
export type { DomainStateInfo } from './procedures/domain.js';
export type { BlockCommitOptions, BlockRebaseOptions, BlockJobInfo } from './procedures/block-jobs.js';
export type { SnapshotRef } from './procedures/snapshot.js';
export type { DomainJobInfo } from './procedures/save-restore.js';
export type { KeepaliveOptions, KeepaliveStats } from './transport/keepalive.js';
