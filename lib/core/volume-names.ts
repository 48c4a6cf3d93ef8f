/**
 * The one rule for ids and for the names of a volume's files on its share. Every name read from
 * an info file (ours or Cinder's), a qcow2 header, a request or a coordinator's answer goes through
 * here before it is used; nothing else in the tree writes a UUID pattern or a volume-name pattern.
 *
 *   volume-<vid>             the file a new volume starts with
 *   volume-<vid>.<uuid>      overlays (snapshots, reverts)
 *   volume-<vid>.info        the info file (not an image: never accepted as one)
 *   .volume-<vid>.<...>.tmp  temp files: never visible under a final name
 *
 * Patterns are anchored and built from an escaped id with an escaped dot (Cinder's OSSA 2014-033
 * regex left the dot unescaped, so `volume-<vid>/x` matched). JavaScript's `$` without the m flag
 * matches only at the very end (Python's also matches before a trailing newline). Only ASCII hex
 * digits match, so unicode look-alikes, `/`, `..`, NUL and protocol prefixes (json:, nbd:, file:)
 * cannot.
 */
import { randomUUID } from 'node:crypto';
import { StorageError, type ErrorCode } from './errors.js';

/** The UUID body, for composing other anchored patterns (operation ids, API schemas). */
export const UUID_SOURCE = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
export const UUID_PATTERN = new RegExp(`^${UUID_SOURCE}$`);

/** Any volume's image name (the volume-agnostic form, for request schemas). */
export const VOLUME_FILE_PATTERN = new RegExp(`^volume-${UUID_SOURCE}(?:\\.${UUID_SOURCE})?$`);
/** Any volume's image name, group 1 the volume id. */
const ANY_IMAGE_PATTERN = new RegExp(`^volume-(${UUID_SOURCE})(?:\\.${UUID_SOURCE})?$`);
/** `volume-<uuid>`: the name a lone file to manage must have; group 1 is the id. */
export const BASE_FILE_PATTERN = new RegExp(`^volume-(${UUID_SOURCE})$`);
/** A base file or an info file; group 1 is the id (for listing the volumes of a share). */
const BASE_OR_INFO_PATTERN = new RegExp(`^volume-(${UUID_SOURCE})(?:\\.info)?$`);

export function isUuid(id: unknown): id is string {
  return typeof id === 'string' && UUID_PATTERN.test(id);
}

/**
 * A UUID in the one form the service writes ids in: lower case. The API lowers every id in a path
 * before it looks it up, so an id kept from an archive in another case could never be reached, and
 * on MariaDB the same id in another case is another row's: archives' ids are held to this form.
 */
export function isCanonicalUuid(id: unknown): id is string {
  return isUuid(id) && id === id.toLowerCase();
}

export function assertUuid(id: unknown, what: string): asserts id is string {
  if (!isUuid(id)) throw new StorageError('INVALID_ID', `${what} is not a UUID: ${JSON.stringify(id)}`, { details: { id, what } });
}

export function assertVolumeId(volumeId: unknown): asserts volumeId is string {
  if (!isUuid(volumeId)) {
    throw new StorageError('INVALID_ID', `volume id is not a UUID: ${JSON.stringify(volumeId)}`, { details: { volumeId } });
  }
}

export function assertSnapshotId(id: unknown): asserts id is string {
  if (!isUuid(id)) throw new StorageError('INVALID_ID', `snapshot id is not a UUID: ${JSON.stringify(id)}`, { details: { snapshotId: id } });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

export function baseFileName(volumeId: string): string {
  assertVolumeId(volumeId);
  return `volume-${volumeId}`;
}

export function overlayFileName(volumeId: string, id: string): string {
  assertUuid(id, 'overlay id');
  return `${baseFileName(volumeId)}.${id}`;
}

export function infoFileName(volumeId: string): string {
  return `${baseFileName(volumeId)}.info`;
}

/**
 * Compiled patterns by volume id: an info file's check tests every name of a deep tree (several
 * hundred at the depth cap), and compiling the pattern anew for each cost more than the test
 * (measured: ~1 ms of a ~1.3 ms parse at depth 128). The patterns have no g/y flag, so a shared
 * one keeps no state between tests. Bounded; cleared whole when full.
 */
const ownPatterns = new Map<string, RegExp>();
const OWN_PATTERNS_LIMIT = 1024;

/** `volume-<vid>` or `volume-<vid>.<uuid>`, bare: the only names an image of this volume may have. */
export function ownFilePattern(volumeId: string): RegExp {
  const known = ownPatterns.get(volumeId);
  if (known !== undefined) return known;
  assertVolumeId(volumeId);
  const pattern = new RegExp(`^volume-${escapeRegExp(volumeId)}(?:\\.${UUID_SOURCE})?$`);
  if (ownPatterns.size >= OWN_PATTERNS_LIMIT) ownPatterns.clear();
  ownPatterns.set(volumeId, pattern);
  return pattern;
}

/** The volume id an image name belongs to (`volume-<vid>[.<uuid>]`), or null for any other name. */
export function volumeIdOfFile(name: unknown): string | null {
  return typeof name === 'string' ? ANY_IMAGE_PATTERN.exec(name)?.[1] ?? null : null;
}

export function isOwnFileName(name: unknown, volumeId: string): name is string {
  return typeof name === 'string' && ownFilePattern(volumeId).test(name);
}

export function isOwnOverlayName(name: unknown, volumeId: string): name is string {
  return isOwnFileName(name, volumeId) && name !== baseFileName(volumeId);
}

export interface NameCheck {
  /** What the name is, for the message ("backing file", "info file entry active"...). */
  what?: string;
  /** The stable code of the refusal; IMAGE_UNSAFE_BACKING for header names, FILE_NAME_UNSAFE otherwise. */
  code?: Extract<ErrorCode, 'IMAGE_UNSAFE_BACKING' | 'FILE_NAME_UNSAFE'>;
  /** Only overlays (`volume-<vid>.<uuid>`), not the base name. */
  overlayOnly?: boolean;
}

/** Refuse anything that is not a bare name of this volume's own images. */
export function assertOwnFileName(name: unknown, volumeId: string, check: NameCheck = {}): asserts name is string {
  const ok = check.overlayOnly ? isOwnOverlayName(name, volumeId) : isOwnFileName(name, volumeId);
  if (ok) return;
  const what = check.what ?? 'file name';
  throw new StorageError(check.code ?? 'FILE_NAME_UNSAFE', `${what} ${JSON.stringify(name)} is not ${check.overlayOnly ? 'an overlay' : 'a file'} of volume ${volumeId}`, {
    details: { name, volumeId, what, reason: 'not-own-bare-name' },
  });
}

/**
 * Every entry of a share directory that belongs to the volume: its images, its info file and the
 * temp files of both (for listing and removing a volume's files, never for opening one as an image).
 * The id is a fixed-length UUID, so no other volume's names can match.
 */
export function belongsToVolume(name: string, volumeId: string): boolean {
  const base = baseFileName(volumeId);
  return name === base || name.startsWith(`${base}.`) || isTempOfVolume(name, volumeId);
}

/** A temp name for a new image of the volume: no other volume's pattern and no final name can match it. */
export function tempFileName(volumeId: string): string {
  return `.${baseFileName(volumeId)}.${randomUUID()}.tmp`;
}

/** Any temp file of the volume (`.volume-<vid>.<...>`): an image's (tempFileName) or its info file's. */
export function isTempOfVolume(name: string, volumeId: string): boolean {
  return name.startsWith(`.${baseFileName(volumeId)}.`);
}

/** A temp of the volume's info file (`.volume-<vid>.info.<random>.tmp`, lib/core/durable-file.ts). */
export function isInfoTempOfVolume(name: string, volumeId: string): boolean {
  return name.startsWith(`.${infoFileName(volumeId)}.`) && name.endsWith('.tmp');
}

/** `volume-<vid>`, `volume-<vid>.<anything>`, `.volume-<vid>.<anything>`; group 1 the id (belongsToVolume's inverse). */
const BELONGING_PATTERN = new RegExp(`^\\.?volume-(${UUID_SOURCE})(\\..+)?$`);

/**
 * The volume a share entry belongs to by belongsToVolume's rule (lower-case id), or null: for
 * grouping a listing by volume, never for opening a file as an image.
 */
export function volumeOwningName(name: string): string | null {
  const m = BELONGING_PATTERN.exec(name);
  if (m?.[1] === undefined) return null;
  // A temp name keeps the dot after the id: the bare `.volume-<vid>` is no name of ours.
  if (name.startsWith('.') && m[2] === undefined) return null;
  return m[1].toLowerCase();
}

/** Volume ids that have a base file or an info file among `names`. */
export function volumeIdsIn(names: readonly string[]): string[] {
  const ids = new Set<string>();
  for (const n of names) {
    const m = BASE_OR_INFO_PATTERN.exec(n);
    if (m?.[1] !== undefined) ids.add(m[1]);
  }
  return [...ids].sort();
}
