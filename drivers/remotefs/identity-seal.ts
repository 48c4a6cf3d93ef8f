/**
 * A frozen file's identity, sealed by the storage service. The identity (file-identity.ts: inode,
 * size, ctime) lives in the info file ON THE SHARE, which a compute host can write: recorded
 * bare, a host that rewrote a frozen file could record the new file's identity as well, and the
 * next operation would skip that file's header. So the recorded identity carries an HMAC-SHA256,
 * with a key the share never sees (the service's database), over what it vouches for: the
 * volume, the file name, the identity fields and the header facts verified when it was recorded
 * (format, backing name and format, virtual size). An identity whose MAC does not verify is as
 * good as none: the header is read again and the identity sealed afresh, so a forged one buys
 * nothing and the check stays flat in depth (one HMAC of ~100 bytes per frozen file: ~1 µs).
 *
 *   recorded identity = <ino>.<size>.<ctime µs> . <virtual size> . <base64url HMAC>    (base 36 numbers)
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Stats } from 'node:fs';
import { IDENTITY_KEY_BYTES } from '../contract/volume-driver.js';
import { identityOf } from './file-identity.js';

/** What a sealed identity vouches for. `stat`: file-identity.ts fileIdentity (three base 36 fields). */
export interface IdentityFacts {
  volumeId: string;
  file: string;
  stat: string;
  format: string;
  backing: string | null;
  backingFormat: string | null;
}

let processKey: Buffer | undefined;

/**
 * The key of a driver given none (tests, the bench, code that calls the engine directly): random
 * per process, so identities recorded by another process never verify (their headers are read
 * again). Never weaker than the service's key, only slower after a restart.
 */
export function processIdentityKey(): Buffer {
  return (processKey ??= randomBytes(IDENTITY_KEY_BYTES));
}

/** A shorter key than the service makes is refused: a wiring error, not a forgery. */
export function assertIdentityKey(key: Buffer): void {
  if (key.length < IDENTITY_KEY_BYTES) throw new TypeError(`the identity key must have at least ${IDENTITY_KEY_BYTES} bytes`);
}

/** One KeyObject per key: an HMAC from a KeyObject costs about two thirds of one from raw bytes (measured ~3 µs against ~4.7 µs). */
const keyObjects = new WeakMap<Buffer, KeyObject>();

function mac(key: Buffer, f: IdentityFacts, virtualSize: number): Buffer {
  let k = keyObjects.get(key);
  if (k === undefined) keyObjects.set(key, (k = createSecretKey(key)));
  // A JSON array: field boundaries no name can blur; a version tag, so another use of the key never collides.
  const text = JSON.stringify(['qcowshare-identity-1', f.volumeId, f.file, f.stat, f.format, f.backing, f.backingFormat, virtualSize]);
  return createHmac('sha256', k).update(text).digest();
}

/**
 * The identity to record for a file whose header was just verified to say `f` and `virtualSize`.
 * `st`: the stats `f.stat` was made from; given, the seal is remembered as verified (it is, by
 * construction), so the next check of the file, frozen by then, needs no HMAC.
 */
export function sealIdentity(key: Buffer, f: IdentityFacts, virtualSize: number, st?: Stats): string {
  const sealed = `${f.stat}.${virtualSize.toString(36)}.${mac(key, f, virtualSize).toString('base64url')}`;
  if (st !== undefined && identityOf(st) === f.stat) remember(key, sealed, { ...f, virtualSize, ...statFields(st) });
  return sealed;
}

const SEALED = /^([0-9a-z]+\.[0-9a-z]+\.[0-9a-z]+)\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{43})$/;

/**
 * The virtual size `recorded` vouches for, when it is a sealed identity of exactly these facts
 * under `key`; undefined otherwise (none, an older unsealed one, other lstat fields, other header
 * facts, another key, a forged MAC): the caller reads the header then.
 */
export function openIdentity(key: Buffer, recorded: string | undefined, f: IdentityFacts): number | undefined {
  if (recorded === undefined) return undefined;
  // A seal this process verified before, for exactly these facts, verifies again: skip the HMAC
  // (the check of a deep chain is one lstat and one map lookup per frozen file). Keyed by the
  // sealed text itself, the facts compared field by field: no key string built per file.
  const memo = verifiedSeals(key);
  const known = memo.get(recorded);
  if (known !== undefined && sameFacts(known, f)) return known.virtualSize;
  const m = SEALED.exec(recorded);
  if (m === null || m[1] !== f.stat) return undefined;
  const virtualSize = parseInt(m[2]!, 36);
  if (!Number.isSafeInteger(virtualSize)) return undefined;
  const given = Buffer.from(m[3]!, 'base64url');
  const expected = mac(key, f, virtualSize);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  remember(key, recorded, { ...f, virtualSize });
  return virtualSize;
}

/** What headers say about a file, without its lstat fields: IdentityFacts less `stat`. */
export type HeaderFacts = Omit<IdentityFacts, 'stat'>;

/**
 * openIdentity for a file whose one lstat is `st`, with the same answer. The check of a deep
 * chain runs this for every frozen file on every operation: when this process verified the seal
 * before, the lstat's fields are compared as numbers with the ones it was verified for, and the
 * identity text (three base 36 conversions per file) is built only when they differ or the seal
 * is new. Equal numbers make equal text (identityOf is a function of them), so nothing is accepted
 * that openIdentity would refuse.
 */
export function openIdentityOfStats(key: Buffer, recorded: string | undefined, f: HeaderFacts, st: Stats): number | undefined {
  if (recorded === undefined) return undefined;
  const known = verifiedSeals(key).get(recorded);
  if (known?.ino !== undefined && known.ino === st.ino && known.size === st.size && known.ctimeUs === ctimeUs(st) && sameHeaderFacts(known, f)) {
    return known.virtualSize;
  }
  const stat = identityOf(st);
  const virtualSize = openIdentity(key, recorded, { ...f, stat });
  if (virtualSize !== undefined) {
    // Verified for this stat text: its numbers are the ones above from now on.
    const entry = verifiedSeals(key).get(recorded);
    if (entry !== undefined && entry.stat === stat) Object.assign(entry, statFields(st));
  }
  return virtualSize;
}

/** ctime in microseconds, as identityOf rounds it. */
function ctimeUs(st: Stats): number {
  return Math.round(st.ctimeMs * 1000);
}

function statFields(st: Stats): { ino: number; size: number; ctimeUs: number } {
  return { ino: st.ino, size: st.size, ctimeUs: ctimeUs(st) };
}

/** A verified seal: the facts its MAC was checked for, the virtual size it vouches for, and (once seen) its lstat fields as numbers. */
interface VerifiedSeal extends IdentityFacts {
  virtualSize: number;
  ino?: number;
  size?: number;
  ctimeUs?: number;
}

function remember(key: Buffer, recorded: string, seal: VerifiedSeal): void {
  const memo = verifiedSeals(key);
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(recorded, seal);
}

function sameHeaderFacts(a: HeaderFacts, b: HeaderFacts): boolean {
  return a.volumeId === b.volumeId && a.file === b.file && a.format === b.format && a.backing === b.backing && a.backingFormat === b.backingFormat;
}

function sameFacts(a: IdentityFacts, b: IdentityFacts): boolean {
  return a.stat === b.stat && sameHeaderFacts(a, b);
}

/** Bound on remembered seals per key (an entry is ~400 bytes); cleared whole when full. */
const MEMO_LIMIT = 100_000;
const memos = new WeakMap<Buffer, Map<string, VerifiedSeal>>();

function verifiedSeals(key: Buffer): Map<string, VerifiedSeal> {
  let m = memos.get(key);
  if (m === undefined) memos.set(key, (m = new Map()));
  return m;
}
