/**
 * SHA-256 of an archive entry, off the event loop for large files.
 *
 * Import and export spend most of their CPU hashing (every byte of every file, the archive's
 * SHA256SUMS), and the same thread also parses or packs the tar stream: hashed inline, the
 * hashing serialises with everything else and, on a busy machine, the import ran at a third of
 * `tar -x`'s speed (bench/export.ts). A large file's bytes are therefore copied into a ring of
 * shared memory that one worker thread hashes in place, while this thread carries on with the
 * stream and the writes.
 * Small files (the manifest, the checksums, tiny test images) are hashed inline: a copy and a
 * message would cost more than the hash.
 *
 * The worker is plain JavaScript evaluated from a string (no module to resolve, no TypeScript
 * loader in it), started on first use and unref'd, so it never keeps a process alive. What it
 * has not hashed yet is bounded by the ring (IN_FLIGHT_BYTES): update() waits for room.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { addPhaseMs } from './phases.js';

/** Entries at least this long are hashed by the worker. */
const WORKER_MIN_BYTES = 8 * 1024 * 1024;
/** Bytes copied to the worker and not yet hashed, at most (per hash): the ring's size. */
const IN_FLIGHT_BYTES = 16 * 1024 * 1024;
/** At most this much per message: the worker starts hashing while the next piece is copied. */
const PIECE_BYTES = 4 * 1024 * 1024;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const open = new Map();
parentPort.on('message', (m) => {
  let h = open.get(m.id);
  if (h === undefined) { h = createHash('sha256'); open.set(m.id, h); }
  if (m.ring !== undefined) {
    const t0 = performance.now();
    h.update(new Uint8Array(m.ring, m.start, m.length));
    parentPort.postMessage({ id: m.id, hashed: m.length, ms: performance.now() - t0 });
  }
  if (m.end) { open.delete(m.id); parentPort.postMessage({ id: m.id, sum: h.digest('hex') }); }
});
`;

/**
 * Rings of shared memory the bytes travel through: copied once into the ring (no allocation per
 * chunk, nothing for either garbage collector; a structured clone per chunk cost more than the
 * hash), hashed in place by the worker. Reused from one hash to the next.
 */
const freeRings: SharedArrayBuffer[] = [];

interface Pending {
  onHashed(n: number, ms: number): void;
  onSum(sum: string): void;
  onError(err: Error): void;
}

let worker: Worker | null = null;
let busy = 0;
let nextId = 0;
const pending = new Map<number, Pending>();

function failAll(err: Error): void {
  for (const p of pending.values()) p.onError(err);
  pending.clear();
  worker = null;
  busy = 0;
}

function theWorker(): Worker {
  if (worker !== null) return worker;
  // execArgv empty: the parent's flags (a TypeScript loader, --input-type=module) would change how
  // the source is evaluated and slow the worker's start.
  const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
  w.on('message', (m: { id: number; hashed?: number; ms?: number; sum?: string }) => {
    const p = pending.get(m.id);
    if (p === undefined) return;
    if (m.hashed !== undefined) p.onHashed(m.hashed, m.ms ?? 0);
    if (m.sum !== undefined) {
      pending.delete(m.id);
      p.onSum(m.sum);
    }
  });
  w.on('error', (err) => { if (worker === w) failAll(err); });
  w.on('exit', (code) => { if (worker === w) failAll(new Error(`the hashing worker exited (${code})`)); });
  w.unref();
  worker = w;
  return w;
}

/**
 * One running hash: update() or updateShared() with every byte in order, then digest() once.
 * update() copies (awaited: it may wait for room in the ring); updateShared() takes a view of
 * shared memory (read-ahead.ts) that the worker hashes in place, without a copy: the caller must not
 * change those bytes before the returned promise resolves.
 */
export interface EntryHash {
  update(buf: Buffer): Promise<void> | void;
  updateShared(view: Buffer): Promise<void>;
  digest(): Promise<string>;
}

function inlineHash(): EntryHash {
  const h: Hash = createHash('sha256');
  return { update: (buf) => { h.update(buf); }, updateShared: async (view) => { h.update(view); }, digest: async () => h.digest('hex') };
}

function workerHash(): EntryHash {
  const w = theWorker();
  const id = nextId++;
  if (busy++ === 0) w.ref();
  const ring = freeRings.pop() ?? new SharedArrayBuffer(IN_FLIGHT_BYTES);
  const view = Buffer.from(ring);
  /** Next byte of the ring to fill, and bytes of the ring filled but not hashed yet. */
  let head = 0;
  let queued = 0;
  /** Every piece posted and not hashed yet, in order: the worker answers in order. */
  const acks: { ring: boolean; n: number; done?: () => void }[] = [];
  let ended = false;
  let failed: Error | null = null;
  let wake: (() => void) | null = null;
  let settle: { resolve(s: string): void; reject(e: Error): void } | null = null;
  const done = new Promise<string>((resolve, reject) => { settle = { resolve, reject }; });
  done.catch(() => undefined);
  const release = (reuse: boolean) => {
    if (--busy === 0) worker?.unref();
    if (reuse) freeRings.push(ring);
  };
  const fail = (err: Error) => {
    failed = err;
    for (const a of acks.splice(0)) a.done?.();
  };
  const waitForRoom = async (n: number) => {
    while (queued + n > IN_FLIGHT_BYTES && failed === null) await new Promise<void>((resolve) => { wake = resolve; });
    if (failed) throw failed;
  };
  pending.set(id, {
    onHashed: (_n, ms) => {
      addPhaseMs('hash.worker-busy', ms);
      const a = acks.shift();
      if (a?.ring) queued -= a.n;
      a?.done?.();
      wake?.();
      wake = null;
    },
    onSum: (sum) => { release(true); settle?.resolve(sum); },
    // The worker may still read the ring: it is not reused.
    onError: (err) => { fail(err); release(false); wake?.(); wake = null; settle?.reject(err); },
  });
  return {
    async update(buf) {
      if (failed) throw failed;
      for (let off = 0; off < buf.length;) {
        // One contiguous piece up to the ring's end; the ring wraps around after it.
        const n = Math.min(buf.length - off, IN_FLIGHT_BYTES - head, PIECE_BYTES);
        await waitForRoom(n);
        buf.copy(view, head, off, off + n);
        w.postMessage({ id, ring, start: head, length: n });
        acks.push({ ring: true, n });
        queued += n;
        head = (head + n) % IN_FLIGHT_BYTES;
        off += n;
      }
    },
    updateShared(view) {
      if (failed) return Promise.reject(failed);
      if (!(view.buffer instanceof SharedArrayBuffer)) return Promise.reject(new Error('updateShared needs a view of shared memory'));
      return new Promise<void>((resolve, reject) => {
        w.postMessage({ id, ring: view.buffer, start: view.byteOffset, length: view.length });
        acks.push({ ring: false, n: view.length, done: () => (failed ? reject(failed) : resolve()) });
      });
    },
    digest() {
      if (failed === null && !ended) w.postMessage({ id, end: true });
      ended = true;
      return done;
    },
  };
}

/** A hash for an entry of `bytes` bytes: in the worker when it is large. */
export function entryHash(bytes: number): EntryHash {
  return bytes >= WORKER_MIN_BYTES ? workerHash() : inlineHash();
}
