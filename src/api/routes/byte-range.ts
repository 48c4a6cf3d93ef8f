/**
 * One byte range of a response body (RFC 9110 §14): which part of an export archive a resumed
 * download asks for, and a sink that passes only that part on.
 *
 * Only a single range is served; several ranges, a malformed header (a last byte before the
 * first is malformed too), another unit, or an If-Range that is not the current ETag are answered
 * with the whole body (200), as RFC 9110 §14.2 asks (ignore what is invalid) and allows (ignore
 * ranges). A suffix longer than the body is the whole body (206). A range that starts at or past
 * the end, or a zero-length suffix, is unsatisfiable (416).
 */
import type { Request, Response } from 'express';
import { Writable } from 'node:stream';

export type RangeAnswer = { kind: 'whole' } | { kind: 'part'; start: number; end: number } | { kind: 'unsatisfiable' };

const SPEC = /^(?:(\d+)-(\d*)|-(\d+))$/;

/** The answer to a Range header (and If-Range) for a body of `total` bytes. Pure. */
export function rangeOf(range: string | undefined, ifRange: string | undefined, total: number, etag: string): RangeAnswer {
  if (range === undefined) return { kind: 'whole' };
  if (ifRange !== undefined && ifRange !== etag) return { kind: 'whole' };
  const eq = range.indexOf('=');
  if (eq < 0 || range.slice(0, eq).trim().toLowerCase() !== 'bytes') return { kind: 'whole' };
  const specs = range.slice(eq + 1).split(',').map((x) => x.trim());
  if (specs.length !== 1) return { kind: 'whole' };
  const m = SPEC.exec(specs[0] as string);
  if (!m) return { kind: 'whole' };
  if (m[3] !== undefined) {
    // A suffix: the last n bytes (all of them when n is larger than the body).
    const n = Number(m[3]);
    if (n === 0 || total === 0) return { kind: 'unsatisfiable' };
    return { kind: 'part', start: Math.max(0, total - n), end: total - 1 };
  }
  const first = Number(m[1]);
  const last = m[2] === '' ? Infinity : Number(m[2]);
  if (last < first) return { kind: 'whole' };
  if (first >= total) return { kind: 'unsatisfiable' };
  return { kind: 'part', start: first, end: Math.min(last, total - 1) };
}

export function wantedRange(req: Request, total: number, etag: string): RangeAnswer {
  const ifRange = req.headers['if-range'];
  // A repeated If-Range joins to a value that is no ETag: the whole body.
  return rangeOf(req.headers.range, Array.isArray(ifRange) ? ifRange.join(', ') : ifRange, total, etag);
}

/** The archive's later bytes are not wanted: rangeSink stops the stream with this. */
export class RangeDone extends Error {
  constructor() {
    super('the requested range has been sent');
  }
}

/**
 * Writes into `res` only the bytes [start, end] of what it is given, with `res`'s backpressure,
 * and stops the stream (RangeDone) once they are sent. It never ends `res`, and it keeps the
 * range's last byte back until finishBody(): a client counting the announced length would otherwise see
 * the body complete before the export let go of the volume's lease, and a resume at once would
 * find the volume still busy with the request it just finished. The route calls finishBody()
 * after the release.
 */
export function rangeSink(res: Response, start: number, end: number): Writable & { finishBody(): void; rangeSent(): boolean } {
  let at = 0;
  let closed = false;
  let tail: Buffer | null = null;
  res.once('close', () => { closed = true; });
  const sink = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _enc, cb) {
      if (at > end) return cb(new RangeDone());
      const from = at;
      at += chunk.length;
      const lo = Math.max(start, from);
      const hi = Math.min(end + 1, at);
      if (lo >= hi) return cb();
      if (closed) return cb(new Error('the client closed the connection'));
      let part = chunk.subarray(lo - from, hi - from);
      if (hi === end + 1) {
        tail = part.subarray(part.length - 1);
        part = part.subarray(0, part.length - 1);
      }
      if (part.length === 0 || res.write(part)) return cb();
      const settle = (): void => { res.off('drain', settle); res.off('close', settle); cb(closed ? new Error('the client closed the connection') : null); };
      res.on('drain', settle);
      res.on('close', settle);
    },
  });
  return Object.assign(sink, { finishBody: () => { res.end(tail ?? undefined); }, rangeSent: () => at > end }) as Writable & { finishBody(): void; rangeSent(): boolean };
}
