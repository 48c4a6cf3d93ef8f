/**
 * Public libvirt constants (include/libvirt/libvirt-domain.h, libvirt 9.0). Flags combine with `|`.
 */

/** remote_auth_type */
export const AuthType = { NONE: 0, SASL: 1, POLKIT: 2 } as const;

/** virDrvFeature values the client asks about. */
export const DrvFeature = { PROGRAM_KEEPALIVE: 10 } as const;

/** virConnectListAllDomainsFlags */
export const ListDomainsFlags = {
  ACTIVE: 1,
  INACTIVE: 2,
  PERSISTENT: 4,
  TRANSIENT: 8,
  RUNNING: 16,
  PAUSED: 32,
  SHUTOFF: 64,
  OTHER: 128,
} as const;

/** virDomainState */
export const DomainState = {
  NOSTATE: 0,
  RUNNING: 1,
  BLOCKED: 2,
  PAUSED: 3,
  SHUTDOWN: 4,
  SHUTOFF: 5,
  CRASHED: 6,
  PMSUSPENDED: 7,
} as const;

/** virDomainXMLFlags */
export const DomainXmlFlags = { SECURE: 1, INACTIVE: 2, UPDATE_CPU: 4, MIGRATABLE: 8 } as const;

/** virDomainUndefineFlagsValues */
export const UndefineFlags = {
  MANAGED_SAVE: 1,
  SNAPSHOTS_METADATA: 2,
  NVRAM: 4,
  KEEP_NVRAM: 8,
  CHECKPOINTS_METADATA: 16,
  TPM: 32,
  KEEP_TPM: 64,
} as const;

/** virDomainModificationImpact / virDomainDeviceModifyFlags */
export const AffectFlags = { CURRENT: 0, LIVE: 1, CONFIG: 2 } as const;

/** virDomainBlockResizeFlags: without BYTES the size is in KiB. */
export const BlockResizeFlags = { BYTES: 1 } as const;

/** virDomainSnapshotCreateFlags */
export const SnapshotCreateFlags = {
  REDEFINE: 1,
  CURRENT: 2,
  NO_METADATA: 4,
  HALT: 8,
  DISK_ONLY: 16,
  REUSE_EXT: 32,
  QUIESCE: 64,
  ATOMIC: 128,
  LIVE: 256,
  VALIDATE: 512,
} as const;

/** virDomainBlockCommitFlags */
export const BlockCommitFlags = { SHALLOW: 1, DELETE: 2, ACTIVE: 4, RELATIVE: 8, BANDWIDTH_BYTES: 16 } as const;

/** virDomainBlockRebaseFlags */
export const BlockRebaseFlags = {
  SHALLOW: 1,
  REUSE_EXT: 2,
  COPY_RAW: 4,
  COPY: 8,
  RELATIVE: 16,
  COPY_DEV: 32,
  BANDWIDTH_BYTES: 64,
} as const;

/** virDomainBlockPullFlags */
export const BlockPullFlags = { BANDWIDTH_BYTES: 64 } as const;

/** virDomainBlockJobAbortFlags */
export const BlockJobAbortFlags = { ASYNC: 1, PIVOT: 2 } as const;

/** virDomainBlockJobInfoFlags */
export const BlockJobInfoFlags = { BANDWIDTH_BYTES: 1 } as const;

/** virDomainBlockJobType */
export const BlockJobType = { UNKNOWN: 0, PULL: 1, COPY: 2, COMMIT: 3, ACTIVE_COMMIT: 4, BACKUP: 5 } as const;

/** virConnectDomainEventBlockJobStatus */
export const BlockJobStatus = { COMPLETED: 0, FAILED: 1, CANCELED: 2, READY: 3 } as const;

/** virDomainEventID: the events this client decodes. */
export const DomainEventId = { LIFECYCLE: 0, BLOCK_JOB_2: 16, AGENT_LIFECYCLE: 18 } as const;

/** virDomainEventType (the `event` of a lifecycle event). */
export const LifecycleEventType = {
  DEFINED: 0,
  UNDEFINED: 1,
  STARTED: 2,
  SUSPENDED: 3,
  RESUMED: 4,
  STOPPED: 5,
  SHUTDOWN: 6,
  PMSUSPENDED: 7,
  CRASHED: 8,
} as const;

/** virConnectDomainEventAgentLifecycleState / Reason */
export const AgentLifecycleState = { CONNECTED: 1, DISCONNECTED: 2 } as const;
export const AgentLifecycleReason = { UNKNOWN: 0, DOMAIN_STARTED: 1, CHANNEL: 2 } as const;

/** virDomainQemuAgentCommandTimeoutValues: seconds, or one of these. */
export const AgentTimeout = { BLOCK: -2, DEFAULT: -1, NOWAIT: 0 } as const;

/** virDomainDestroyFlagsValues */
export const DestroyFlags = { DEFAULT: 0, GRACEFUL: 1 } as const;

/** virDomainSaveRestoreFlags: RUNNING and PAUSED override the state recorded in the file. */
export const SaveRestoreFlags = { BYPASS_CACHE: 1, RUNNING: 2, PAUSED: 4, RESET_NVRAM: 8 } as const;

/** virDomainSaveImageXMLFlags */
export const SaveImageXmlFlags = { SECURE: 1 } as const;

/** virDomainJobType */
export const DomainJobType = { NONE: 0, BOUNDED: 1, UNBOUNDED: 2, COMPLETED: 3, FAILED: 4, CANCELLED: 5 } as const;
