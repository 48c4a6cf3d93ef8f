/**
 * A streamed upload (an import archive) that the service refuses before it has read the body (a
 * busy volume, a failed check): the client is still sending. Answering at once and closing, as
 * node does when the client asked for `Connection: close`, resets the connection under the
 * client's writes: it sees EPIPE / ECONNRESET instead of the answer. Two ways out:
 *   - `Expect: 100-continue`: the body is held back until the route accepts it (acceptUpload);
 *     a refusal answers before any body byte was sent, and closes (the client will not send it);
 *   - otherwise the rest of the body is read and discarded, up to a bound, and only then is the
 *     refusal answered; a body longer than the bound is answered and cut off by closing (that
 *     client may see a reset, as from any server refusing a large upload: it should send Expect).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const continued = new WeakSet<IncomingMessage>();

export function expectsContinue(req: IncomingMessage): boolean {
  return (req.headers.expect ?? '').trim().toLowerCase() === '100-continue';
}

/** The route is about to read the body: let a client that waits for `100 Continue` send it. Idempotent. */
export function acceptUpload(req: IncomingMessage, res: ServerResponse): void {
  if (!expectsContinue(req) || continued.has(req)) return;
  continued.add(req);
  if (!res.headersSent) res.writeContinue();
}

/** Whether the client holds the body back: it asked for 100 Continue and never got it. */
export function bodyHeldBack(req: IncomingMessage): boolean {
  return expectsContinue(req) && !continued.has(req);
}

/**
 * Call before an error answer to an upload request goes out, and answer once the promise
 * resolves (it never rejects). Nothing to wait for when the body has been read to its end.
 * Drained bytes are discarded unparsed: a refused archive is never looked at.
 */
export function settleRefusedUpload(req: IncomingMessage, res: ServerResponse, drainLimitBytes: number): Promise<void> {
  if (req.complete || req.destroyed || res.headersSent) return Promise.resolve();
  if (bodyHeldBack(req)) {
    // The client sends nothing more for this request; were the connection kept, node's parser
    // would wait for the announced body and take whatever the client sends next for it.
    res.setHeader('Connection', 'close');
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    let drained = 0;
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      req.off('data', count);
      req.pause();
      // What is left unread cannot be parsed as a next request on this connection.
      if (!req.complete) res.setHeader('Connection', 'close');
      resolve();
    };
    const count = (chunk: Buffer): void => {
      drained += chunk.length;
      if (drained > drainLimitBytes) stop();
    };
    req.on('data', count);
    req.once('end', stop);
    // A client gone (or the request time-out) ends the wait; the answer then goes nowhere.
    req.once('close', stop);
    req.once('error', stop);
    req.resume();
  });
}
