/**
 * Sending requests exactly as generated: the path is not normalized or re-encoded (supertest and
 * URL objects would "fix" bad percent-encoding). Keep-alive connections through one agent; a path
 * or method Node's client refuses to send (control characters, bytes above 0xff) goes over a
 * plain socket instead, since a hostile client is not bound by Node's checks.
 */
import http from 'node:http';
import net from 'node:net';

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface RawAnswer {
  /** 0 = the server closed the connection without an answer. */
  status: number;
  body: string;
}

export function keepAliveAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 16 });
}

function viaSocket(port: number, r: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => {
      const head = [`${r.method} ${r.path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close',
        ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`), `Content-Length: ${r.body?.length ?? 0}`];
      s.end(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), r.body ?? Buffer.alloc(0)]));
    });
    s.setTimeout(20_000, () => s.destroy(new Error(`no answer in 20 s to ${r.method} ${JSON.stringify(r.path)}`)));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve({ status: 0, body: '' }) : reject(e)));
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, body: text.slice(text.indexOf('\r\n\r\n') + 4, 400) });
    });
  });
}

export function send(port: number, agent: http.Agent, r: RawRequest): Promise<RawAnswer> {
  let req: http.ClientRequest;
  try {
    req = http.request({
      host: '127.0.0.1', port, agent, method: r.method, path: r.path,
      headers: { ...r.headers, 'content-length': String(r.body?.length ?? 0) },
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_UNESCAPED_CHARACTERS' || code === 'ERR_INVALID_HTTP_TOKEN' || code === 'ERR_INVALID_CHAR') return viaSocket(port, r);
    throw e;
  }
  return new Promise((resolve, reject) => {
    req.setTimeout(20_000, () => req.destroy(new Error(`no answer in 20 s to ${r.method} ${JSON.stringify(r.path)}`)));
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve({ status: 0, body: '' }) : reject(e)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => { if (chunks.length < 4) chunks.push(c); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 400) }));
    });
    req.end(r.body);
  });
}
