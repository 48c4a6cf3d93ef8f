/**
 * One error class for the whole product. Callers branch on `code`, never on messages.
 * Every code is listed in ERROR_CODES with the HTTP status the API maps it to; the README's
 * table of codes is checked against this list by a unit test.
 */
export const ERROR_CODES = {
  // configuration and environment
  CONFIG_INVALID: { http: 500, summary: 'The configuration failed validation at start.' },
  PORT_IN_USE: { http: 500, summary: 'The configured port is taken (or may not be bound); the message names the configuration key and environment variable that choose another. Checked before any start-up work.' },
  TOOL_MISSING: { http: 500, summary: 'A required program (qemu-img, mount.glusterfs, ...) is not installed.' },
  // processes
  PROCESS_FAILED: { http: 500, summary: 'A child process exited non-zero; the error carries command, exit code and stderr.' },
  PROCESS_TIMEOUT: { http: 504, summary: 'A child process exceeded its time limit and was killed.' },
  // input
  INVALID_INPUT: { http: 400, summary: 'A request body, parameter or argument failed validation.' },
  MICROVERSION_UNSUPPORTED: { http: 406, summary: 'The OpenStack-API-Version asked for is outside the advertised range; the message names the minimum and maximum.' },
  MICROVERSION_TOO_LOW: { http: 404, summary: 'The route or action needs a later microversion than the request asked for (as Cinder answers 404); the message names the version it needs.' },
  ACTION_NOT_SUPPORTED: { http: 400, summary: 'The body names a Cinder action this service does not implement (retype, migrate, upload-to-image, ...); the message names it.' },
  INVALID_ID: { http: 400, summary: 'An identifier is not a UUID.' },
  SIZE_OUT_OF_BOUNDS: { http: 400, summary: 'A size is zero, negative, not an integer or above the configured maximum.' },
  // images (hostile input)
  IMAGE_UNSAFE_BACKING: { http: 400, summary: 'An image names a backing file that is not a bare name of the same volume.' },
  IMAGE_DATA_FILE: { http: 400, summary: 'A qcow2 image uses an external data file.' },
  IMAGE_FORMAT_MISMATCH: { http: 400, summary: 'The image format is not the recorded / expected one.' },
  IMAGE_SIZE_MISMATCH: { http: 400, summary: 'The image virtual size differs from the recorded size.' },
  IMAGE_CORRUPT: { http: 400, summary: 'The image header cannot be parsed or fails consistency checks, or qemu found its metadata corrupt (an unaligned or overlapping cluster: its read fails with EIO, which is then not taken for a share gone).' },
  FILE_UNSAFE: { http: 400, summary: 'A file on the share is not a regular file with one link on the share\'s file system (symlink, hard link, FIFO, device, directory); it is neither opened nor changed.' },
  FILE_NAME_UNSAFE: { http: 400, summary: 'A file name (from an info file, a request or an answer) is not a bare name of the volume\'s own files.' },
  IMAGE_DIFFERS_FROM_INFO: { http: 400, summary: "A file of a volume's chain is not what its info file records (a recorded file is missing)." },
  // export archives (hostile input, like images)
  ARCHIVE_CORRUPT: { http: 400, summary: 'An import archive is not a readable tar stream, is truncated, or its manifest is not valid JSON of the expected form.' },
  ARCHIVE_UNSAFE_ENTRY: { http: 400, summary: 'An import archive holds an entry that is not a plain file with a bare name of the archive (`..`, absolute path, link, device, directory, duplicate or unknown name).' },
  ARCHIVE_MANIFEST_MISMATCH: { http: 400, summary: "An import archive's manifest disagrees with its files (a file missing or extra, another size, format or backing name than the header says)." },
  ARCHIVE_CHECKSUM_MISMATCH: { http: 400, summary: "A file of an import archive does not have the SHA-256 the archive's checksums name." },
  IMPORT_SHARE_MAP_INVALID: { http: 400, summary: "An instance import's per-volume share mapping (volume_share) is malformed, names an archived volume twice, names a volume the archive does not carry, or names a share that is not configured; refused before anything is written." },
  IMPORT_BASE_MISMATCH: { http: 409, summary: 'An incremental archive does not apply to the target volume: it was not imported from the same source, or does not hold the base snapshot\'s files unchanged.' },
  // volumes, snapshots, shares
  VOLUME_NOT_FOUND: { http: 404, summary: 'No such volume (or not visible to the caller).' },
  SNAPSHOT_NOT_FOUND: { http: 404, summary: 'No such snapshot (or not visible to the caller).' },
  NOT_FOUND: { http: 404, summary: 'No such resource.' },
  METADATA_KEY_NOT_FOUND: { http: 404, summary: 'The volume or snapshot has no metadata item with this key.' },
  METADATA_CHANGED: { http: 412, summary: "A metadata write carried If-Match and the item set changed since that ETag was read (cinder's `metadata unset` sends it); nothing was written." },
  VOLUME_EXISTS: { http: 409, summary: 'A volume with this id already has files on a share.' },
  VOLUME_ALREADY_MANAGED: { http: 409, summary: 'Manage named a file of a volume the service already has (or had: a deleted volume\'s id), or a snapshot id it already has.' },
  VOLUME_BUSY: { http: 409, summary: 'Another operation holds the volume lease.' },
  INVALID_STATE: { http: 400, summary: 'The resource is not in a status that allows this operation.' },
  CHAIN_TOO_DEEP: { http: 400, summary: 'The snapshot would make the chain deeper than max_chain_depth.' },
  HAS_SNAPSHOTS: { http: 400, summary: 'The volume has snapshots and cascade was not asked.' },
  NO_SHARE_SPACE: { http: 507, summary: 'No configured share has room for the request.' },
  NO_SPACE: { http: 507, summary: 'The share ran out of space (ENOSPC or EDQUOT), or has not the space the operation needs (checked before it changes anything); the volume keeps the state it had.' },
  SHARE_UNAVAILABLE: { http: 503, summary: 'A share is not mounted, not writable or not reachable (ENOTCONN, EIO, ESTALE or EHOSTDOWN from a call on the share, or a child process reporting one: a GlusterFS brick or an NFS server lost); nothing is concluded about the volume\'s files, so the operation can be retried once the share is back.' },
  MOUNT_FAILED: { http: 503, summary: 'Mounting a share failed.' },
  // A file on the share refuses the request, not a fault of the service: 409, as the image codes answer 4xx.
  INFO_FILE_CORRUPT: { http: 409, summary: "The volume's info file on the share cannot be parsed or describes an impossible tree (an active file it does not record, a backing loop, a file outside the tree): the volume's state on the share refuses the request; nothing was changed." },
  // volume types and quotas
  VOLUME_TYPE_NOT_FOUND: { http: 404, summary: 'No such volume type (by name or id), or a private type the caller may not use.' },
  VOLUME_TYPE_EXISTS: { http: 409, summary: 'A volume type with this name already exists.' },
  VOLUME_TYPE_IN_USE: { http: 400, summary: 'The volume type is the default type, or volumes (not deleted) still have it; nothing was deleted.' },
  VOLUME_TYPE_ACCESS_EXISTS: { http: 409, summary: 'The project already has access to this private volume type; nothing changed.' },
  VOLUME_TYPE_ACCESS_NOT_FOUND: { http: 404, summary: "The project has no access to this private volume type to remove, or the type is public (a public type has no access list, as in Cinder)." },
  VOLUME_TYPE_PUBLIC: { http: 400, summary: 'Project access is given to private volume types only; this one is public. Nothing changed.' },
  VOLUME_TYPE_SPEC_UNSUPPORTED: { http: 400, summary: "An extra spec this service cannot honour (unknown key, unsupported value, another backend's volume_backend_name, a share pattern no share matches); refused when set and when a create would apply it." },
  OVER_QUOTA: { http: 413, summary: "The create, manage or import would exceed the project's quota (volumes, snapshots or gigabytes); Cinder's overLimit shape, nothing created, adopted or imported. Details name the resource, its limit, use and the request." },
  // leases and fencing
  LEASE_HELD: { http: 409, summary: 'The volume lease is held by another holder.' },
  LEASE_LOST: { http: 409, summary: 'The lease expired or was taken over; the holder must stop.' },
  STALE_FENCING_TOKEN: { http: 409, summary: 'A request carried a fencing token older than the current grant.' },
  // api
  UNAUTHORIZED: { http: 401, summary: 'No or unknown token.' },
  IDENTITY_UNAVAILABLE: { http: 503, summary: 'Keystone did not answer (or refused this service\'s own credentials): no request is allowed until it does.' },
  FORBIDDEN: { http: 403, summary: 'The caller lacks the role for this action.' },
  CONFLICT: { http: 409, summary: 'The request conflicts with the current state.' },
  NOT_IMPLEMENTED: { http: 501, summary: 'The operation is not supported by this driver or configuration.' },
  OPERATION_NOT_FOUND: { http: 404, summary: 'No such operation (or not visible to the caller).' },
  MESSAGE_NOT_FOUND: { http: 404, summary: 'No such user message (expired, deleted, or not visible to the caller).' },
  OPERATION_ABANDONED: { http: 409, summary: 'The operation was abandoned before its commit point (its lease expired); reports for it are refused.' },
  COMMIT_POINT_PASSED: { http: 409, summary: 'An operation on the volume is past its commit point; it can only roll forward, so the request must wait for it to end.' },
  PAYLOAD_TOO_LARGE: { http: 413, summary: 'The request body exceeds api.bodyLimit.' },
  MALFORMED_REQUEST: { http: 400, summary: 'The request cannot be read: a path that does not percent-decode or decodes to a control character, a malformed request line or header.' },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, summary: 'A request body that is not application/json (an import\'s: not application/x-tar).' },
  REQUEST_TIMEOUT: { http: 408, summary: 'The request\'s headers or body did not arrive within the configured time-out; the connection is closed.' },
  RANGE_NOT_SATISFIABLE: { http: 416, summary: 'A Range on an export that starts at or past its end (Content-Range: bytes */<length> says the length).' },
  HEADERS_TOO_LARGE: { http: 431, summary: 'The request line and headers exceed maxHeaderBytes.' },
  // libvirt
  LIBVIRT_ERROR: { http: 502, summary: 'libvirt returned an error; libvirtCode/libvirtDomain carry its own codes.' },
  LIBVIRT_DISCONNECTED: { http: 503, summary: 'The connection to libvirtd closed.' },
  LIBVIRT_PROTOCOL_ERROR: { http: 502, summary: 'libvirtd sent a message the client cannot decode (framing or XDR layout).' },
  LIBVIRT_TIMEOUT: { http: 504, summary: 'An awaited libvirt event or guest-agent result did not arrive in time.' },
  LIBVIRT_AUTH_UNSUPPORTED: { http: 500, summary: 'The libvirtd socket asks for an authentication method the client does not implement (e.g. SASL).' },
  // compute coordinator
  PLAN_MISMATCH: { http: 409, summary: 'A snapshot or merge plan does not match the live domain (chain, backing name or format); nothing was changed.' },
  QUIESCE_FAILED: { http: 409, summary: 'Quiesce was required but the guest agent could not freeze the file systems; nothing was changed.' },
  COMMIT_POINT_REFUSED: { http: 409, summary: 'The storage side refused permission to pass the commit point (operation abandoned or stale fencing token).' },
  BLOCK_JOB_FAILED: { http: 502, summary: 'A libvirt block job ended without producing the planned chain.' },
  METADATA_API_UNAVAILABLE: { http: 503, summary: 'The coordinator could not reach the metadata API (the report is kept and sent again).' },
  COORDINATOR_UNAVAILABLE: { http: 503, summary: 'The coordinator of the attachment\'s host did not answer; the operation may or may not have started there.' },
  COMPUTE_HOST_UNKNOWN: { http: 400, summary: 'The compute host is not in the registry of compute hosts (os-compute-hosts); nothing was sent to it and nothing changed.' },
  OLD_HOST_UNREACHABLE: { http: 409, summary: 'A restore on another compute host was refused: the coordinator of the instance\'s current host did not answer when asked to stop and undefine the instance, so it may still run there; nothing changed. Retry once it answers, or state that the host is down and fenced (old_host_fenced: true).' },
  PLACEMENT_UNDECIDED: { http: 409, summary: 'The first placement of an imported instance was interrupted and its host did not answer, within storage.checkpointSettleBoundMs, whether it restored the instance: its volumes stay attached to the instance on that host (it may run on them). Once the host answers, revert to the checkpoint again with that host (the restore is repeated onto the same overlays).' },
  COORDINATOR_ENDPOINT_REFUSED: { http: 400, summary: 'A request named a coordinator endpoint; coordinators are taken from the registry of compute hosts only.' },
  // attachments (Cinder 3.27+ attachments API and the legacy attach actions)
  ATTACHMENT_NOT_FOUND: { http: 404, summary: 'No such attachment (or its volume is not visible to the caller).' },
  MULTIATTACH_NOT_SUPPORTED: { http: 400, summary: 'The volume already has an attachment (reserved, attaching, attached or detaching) and volumes here are never multi-attach: a second writer would corrupt the qcow2 chain. Nothing was changed.' },
  // instance checkpoints (memory + disks)
  CHECKPOINT_UNMANAGED_DISK: { http: 409, summary: 'The instance has a disk this product does not manage (not a file-backed volume); a checkpoint needs it excluded explicitly. Nothing was changed.' },
  CHECKPOINT_MEMORY_UNSAFE: { http: 400, summary: "A checkpoint's memory file is not the complete libvirt save image recorded when it was taken (wrong header, size or a partial image); refused before anything changed." },
  CHECKPOINT_DEFINITION_UNSAFE: { http: 400, summary: "A checkpoint's saved definition names a file that is not one of the checkpoint's recorded snapshot points, or lacks one of its disks; refused before anything changed." },
  CHECKPOINT_RESTORE_INCOMPATIBLE: { http: 409, summary: "The checkpoint's memory file cannot be restored with its definition: libvirt requires the uuid, disk serials and device layout the file's own definition names. Refused before anything changed when the ids differ (an instance imported with new ids by an earlier version: import it again; an image with no room for its definition under new ids: import keeping the ids), else libvirt's refusal after the restore was undone; the instance is as before." },
  INSTANCE_CHECKPOINTS_AMBIGUOUS: { http: 409, summary: "The instance's volumes sit on several shares and more than one of them has a checkpoint directory of the instance (checkpoints/<uuid>): whose files are its checkpoints' is unclear. Nothing was read or changed; remove the stale directory." },
  CHECKPOINT_VOLUME_GONE: { http: 409, summary: 'A volume that was attached at the checkpoint is gone (its snapshot point is missing); the revert was refused before anything changed.' },
  CHECKPOINT_NOT_FOUND: { http: 404, summary: 'No such checkpoint (or not visible to the caller).' },
  CHECKPOINT_INSTANCE_UNKNOWN: { http: 404, summary: 'No volume of the caller\'s project is attached to that instance, so no compute host is known for it; nothing was sent anywhere.' },
  CHECKPOINT_MEMBER: { http: 409, summary: 'The snapshot belongs to a checkpoint (metadata checkpoint_id) that still exists; delete the checkpoint instead. Nothing was changed.' },
  INTERNAL: { http: 500, summary: 'An unexpected internal error.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface StorageErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class StorageError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: StorageErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StorageError';
    this.code = code;
    this.details = options.details ?? {};
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function isStorageError(err: unknown, code?: ErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}

/** A file-system error of a full share or an exhausted quota. */
export function isNoSpaceErrno(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * A file-system error of a share that went away (a GlusterFS brick or an NFS server lost). EIO is
 * one too: a GlusterFS client answers it for a file whose only brick is down.
 */
export function isShareGoneErrno(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOTCONN' || code === 'ESTALE' || code === 'EHOSTDOWN' || code === 'EIO';
}

/** What a child process prints when a call on the share met it gone (the errnos of isShareGoneErrno). */
export const SHARE_GONE_STDERR = /Transport endpoint is not connected|Stale file handle|Host is down|Input\/output error/i;

/**
 * What qemu prints when an image's metadata is corrupt (an L2 entry unaligned or pointing into
 * metadata: a hostile or damaged file the header checks cannot see). Its read then fails with EIO,
 * which must not read as a share gone (503, "retry"): the file refuses the request (IMAGE_CORRUPT).
 */
export const IMAGE_CORRUPT_STDERR = /qcow2: (?:Image is corrupt|Marking image as corrupt)/;

/** SHARE_UNAVAILABLE for a share-gone errno (the original kept as cause), else null. */
export function shareGoneError(err: unknown, what: string): StorageError | null {
  if (!isShareGoneErrno(err)) return null;
  const errno = (err as { code: string }).code;
  return new StorageError('SHARE_UNAVAILABLE', `the share is not reachable (${errno}): ${what}`, { cause: err, details: { errno } });
}

/** What a child process prints when a write found the share full (qemu-img, qemu-io, cp). */
export const NO_SPACE_STDERR = /No space left on device|Disk quota exceeded/i;

/**
 * Wrap anything thrown into a StorageError, keeping the original as `cause`; a full share
 * (ENOSPC/EDQUOT from a file-system call) is NO_SPACE, whatever the fallback.
 */
export function toStorageError(err: unknown, fallback: ErrorCode = 'INTERNAL'): StorageError {
  if (err instanceof StorageError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isNoSpaceErrno(err)) return new StorageError('NO_SPACE', `the share is full: ${message}`, { cause: err, details: { errno: (err as { code: string }).code } });
  const gone = shareGoneError(err, message);
  if (gone) return gone;
  return new StorageError(fallback, message, { cause: err });
}
