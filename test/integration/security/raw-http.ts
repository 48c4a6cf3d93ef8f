/** Raw HTTP/1.1 over node:net, for requests no HTTP client would send (and for watching a connection close). */
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  /** The status of the first reply, or 0 when the server closed without one. */
  status: number;
  /** The parsed JSON body of the first reply, or undefined. */
  body: unknown;
  text: string;
  /** Whether the server closed the connection before `capMs`. */
  closed: boolean;
  elapsedMs: number;
}

function parse(text: string): { status: number; body: unknown } {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  const at = text.indexOf('\r\n\r\n');
  let body: unknown;
  if (at !== -1) {
    try {
      body = JSON.parse(text.slice(at + 4));
    } catch {
      body = undefined;
    }
  }
  return { status: m ? Number(m[1]) : 0, body };
}

/**
 * Send `data` and read until the server closes the connection, or until `capMs` (then the
 * client closes it and `closed` is false). `until` ends the read early (e.g. once a reply is in).
 */
export function rawRequest(port: number, data: string | Buffer, capMs: number, until?: (text: string) => boolean): Promise<RawAnswer> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(cap);
      socket.destroy();
      resolve({ ...parse(text), text, closed, elapsedMs: Date.now() - started });
    };
    const cap = setTimeout(() => finish(false), capMs);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (until?.(text)) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
  });
}

/** A connection that made one complete request and stays open; resolves once the reply is in. */
export function openKeptAlive(port: number, request: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    let text = '';
    socket.on('connect', () => socket.write(request));
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (/^HTTP\/1\.1 \d{3}/.test(text) && text.includes('\r\n\r\n')) resolve({ socket, closed });
    });
    socket.once('close', () => reject(new Error(`closed before a reply: ${JSON.stringify(text)}`)));
  });
}
