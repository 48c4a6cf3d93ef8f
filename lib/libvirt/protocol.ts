/**
 * Wire-level numbers of libvirt's RPC programs (src/remote/remote_protocol.x,
 * src/remote/qemu_protocol.x, src/rpc/virkeepaliveprotocol.x, src/rpc/virnetprotocol.x).
 * libvirt only ever appends to these lists, so the numbers are stable across versions.
 */

export const Program = {
  REMOTE: 0x20008086,
  QEMU: 0x20008087,
  KEEPALIVE: 0x6b656570,
} as const;

export const PROGRAM_VERSION = {
  [Program.REMOTE]: 1,
  [Program.QEMU]: 1,
  [Program.KEEPALIVE]: 1,
} as const;

/** virNetMessageType */
export const MessageType = {
  CALL: 0,
  REPLY: 1,
  MESSAGE: 2,
  STREAM: 3,
  CALL_WITH_FDS: 4,
  REPLY_WITH_FDS: 5,
} as const;

/** virNetMessageStatus */
export const MessageStatus = {
  OK: 0,
  ERROR: 1,
  CONTINUE: 2,
} as const;

export const KeepaliveProc = {
  PING: 1,
  PONG: 2,
} as const;

/** remote_procedure: only those this client speaks. */
export const RemoteProc = {
  CONNECT_OPEN: 1,
  CONNECT_CLOSE: 2,
  CONNECT_GET_VERSION: 4,
  DOMAIN_CREATE: 9,
  DOMAIN_DEFINE_XML: 11,
  DOMAIN_DESTROY: 12,
  DOMAIN_GET_XML_DESC: 14,
  DOMAIN_LOOKUP_BY_NAME: 23,
  DOMAIN_LOOKUP_BY_UUID: 24,
  DOMAIN_RESUME: 28,
  DOMAIN_SUSPEND: 34,
  CONNECT_SUPPORTS_FEATURE: 60,
  AUTH_LIST: 66,
  AUTH_POLKIT: 70,
  CONNECT_GET_LIB_VERSION: 157,
  DOMAIN_ATTACH_DEVICE_FLAGS: 160,
  DOMAIN_DETACH_DEVICE_FLAGS: 161,
  DOMAIN_GET_JOB_INFO: 163,
  DOMAIN_SNAPSHOT_CREATE_XML: 185,
  DOMAIN_GET_BLOCK_INFO: 194,
  DOMAIN_GET_STATE: 212,
  DOMAIN_UNDEFINE_FLAGS: 231,
  DOMAIN_RESTORE_FLAGS: 233,
  DOMAIN_SAVE_IMAGE_GET_XML_DESC: 235,
  DOMAIN_BLOCK_JOB_ABORT: 237,
  DOMAIN_GET_BLOCK_JOB_INFO: 238,
  DOMAIN_BLOCK_PULL: 240,
  DOMAIN_BLOCK_RESIZE: 251,
  DOMAIN_BLOCK_REBASE: 266,
  CONNECT_LIST_ALL_DOMAINS: 273,
  DOMAIN_BLOCK_COMMIT: 290,
  CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY: 316,
  CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY: 317,
  DOMAIN_EVENT_CALLBACK_LIFECYCLE: 318,
  DOMAIN_FSFREEZE: 335,
  DOMAIN_FSTHAW: 336,
  DOMAIN_EVENT_BLOCK_JOB_2: 339,
  DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE: 348,
} as const;

export const QemuProc = {
  DOMAIN_AGENT_COMMAND: 3,
} as const;

/** Array bounds from remote_protocol.x that the server enforces; checked before sending. */
export const Limits = {
  DOMAIN_LIST_MAX: 16384,
  DOMAIN_FSFREEZE_MOUNTPOINTS_MAX: 256,
  AUTH_TYPE_LIST_MAX: 20,
} as const;

/** VIR_UUID_BUFLEN */
export const UUID_BYTES = 16;
