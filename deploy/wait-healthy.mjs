/* global process, fetch, AbortSignal, setTimeout -- Node globals: plain JavaScript, outside the TypeScript lint setup */
// The units' start check (ExecStartPost): polls the service's /healthz until it answers 200, so
// `systemctl start` returns only once the service serves (Type=notify would need a native module).
// Reads the same configuration as the service (QCOWSHARE_CONFIG and QCOWSHARE__ overrides, through
// the compiled loader), so the port is never written twice.
//   node wait-healthy.mjs api|coordinator [timeout-seconds]
// Plain JavaScript on purpose: it runs from an installed build, with no TypeScript tooling.
import { get } from 'node:https';
import { composeConfigSchema, loadConfig } from '../dist/lib/core/config.js';

const section = process.argv[2];
const timeoutMs = Number(process.argv[3] ?? 90) * 1000;
if (section !== 'api' && section !== 'coordinator') {
  process.stderr.write('usage: wait-healthy.mjs api|coordinator [timeout-seconds]\n');
  process.exit(2);
}
// Only the listen address is read here: the drivers' storage options are the service's to check.
const { host, port, tls } = loadConfig({ schema: composeConfigSchema({}, 'ignore') })[section];
// A wildcard listen address is reached on loopback.
const target = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
const url = `${tls ? 'https' : 'http'}://${target.includes(':') ? `[${target}]` : target}:${port}/healthz`;
// Over TLS the certificate is not checked: this asks our own process on loopback whether it
// serves (the certificate names the public host, not 127.0.0.1) and sends no credential.
function httpsStatus(u) {
  return new Promise((resolve, reject) => {
    const req = get(u, { rejectUnauthorized: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  });
}
const deadline = Date.now() + timeoutMs;
let last = 'no answer yet';
while (Date.now() < deadline) {
  try {
    const res = tls ? await httpsStatus(url) : await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (res.status === 200) {
      process.stdout.write(`healthy: ${url}\n`);
      process.exit(0);
    }
    last = `HTTP ${res.status}`;
  } catch (err) {
    last = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
  }
  await new Promise((r) => setTimeout(r, 500));
}
process.stderr.write(`not healthy after ${timeoutMs / 1000} s: ${url}: ${last}\n`);
process.exit(1);
