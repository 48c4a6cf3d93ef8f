/**
 * One byte range of a response body (RFC 9110 §14): which part of an export archive a resumed
 * download asks for, and a sink that passes only that part on.
 *
 * Only a single range is served; several ranges, a malformed header, or an If-Range that is not
 * the current ETag are answered with the whole body (200), as the RFC allows a server to. A range
 * that starts at or past the end is unsatisfiable (416).
 */
import type { Request, Response } from 'express';
import { Writable } from 'node:stream';

export type RangeAnswer = { kind: 'whole' } | { kind: 'part'; start: number; end: number } | { kind: 'unsatisfiable' };

export function wantedRange(req: Request, total: number, etag: string): RangeAnswer {
  if (req.headers.range === undefined) return { kind: 'whole' };
  const ifRange = req.headers['if-range'];
  if (ifRange !== undefined && ifRange !== etag) return { kind: 'whole' };
  const ranges = req.range(total, { combine: true });
  if (ranges === -1) return { kind: 'unsatisfiable' };
  if (ranges === -2 || ranges === undefined || ranges.type !== 'bytes' || ranges.length !== 1) return { kind: 'whole' };
  const [r] = ranges;
  return r === undefined ? { kind: 'whole' } : { kind: 'part', start: r.start, end: r.end };
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
