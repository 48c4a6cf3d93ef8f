/**
 * A lean keep-alive JSON client for benchmarks whose requests depend on each other (wrk cannot
 * chain a POST on the answer of the previous one): node:http with a keep-alive agent, no fetch
 * machinery (WHATWG streams cost the generator as much CPU as the server spends).
 */
import { Agent, request } from 'node:http';

export interface JsonClient {
  call(method: string, path: string, token: string, body?: unknown): Promise<Record<string, unknown>>;
  close(): void;
}

export function jsonClient(origin: string, maxSockets: number): JsonClient {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const base = new URL(origin);
  const call = (method: string, path: string, token: string, body?: unknown) => new Promise<Record<string, unknown>>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { 'x-auth-token': token };
    if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    const req = request({ host: base.hostname, port: base.port, method, path, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 300) return reject(new Error(`${method} ${path} → ${res.statusCode} ${text}`));
        resolve(text ? (JSON.parse(text) as Record<string, unknown>) : {});
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
  return { call, close: () => agent.destroy() };
}
