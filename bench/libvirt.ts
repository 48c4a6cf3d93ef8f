/**
 * libvirt client vs virsh on the same daemon, same run.
 *   - a no-op call (CONNECT_GET_VERSION) and lookup-by-name + XML description;
 *     virsh pays a process and a connection per call, so the client is also timed doing a
 *     connect + call + close, for a like-for-like figure;
 *   - 1,000 calls issued at once on one connection (libvirtd serves 5 at a time per client: the
 *     rest queue in the socket), total time and per-call latency.
 * Run: npx tsx bench/libvirt.ts   (needs libvirtd running: scripts/setup.sh test)
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { run } from '../lib/core/process.js';
import { LibvirtConnection, type DomainRef } from '../lib/libvirt/index.js';
import { median } from './lib/stats.js';

const URI = 'qemu:///system';

async function timeEach(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

function line(label: string, ms: number, extra = ''): void {
  console.log(`${label.padEnd(52)} median ${ms.toFixed(3).padStart(9)} ms ${extra}`);
}

async function defineScratchDomain(conn: LibvirtConnection): Promise<DomainRef> {
  const name = `bench-${randomBytes(4).toString('hex')}`;
  return conn.defineXml(`<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory>` +
    `<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>`);
}

async function compare(conn: LibvirtConnection, dom: DomainRef): Promise<void> {
  await timeEach(20, () => conn.getVersion()); // warm-up
  const clientVersion = median(await timeEach(300, () => conn.getVersion()));
  const clientXml = median(await timeEach(300, async () => conn.getXmlDesc(await conn.lookupByName(dom.name))));
  const clientFresh = median(await timeEach(20, async () => {
    const c = await LibvirtConnection.connect({ uri: URI, keepalive: false });
    await c.getXmlDesc(await c.lookupByName(dom.name));
    await c.close();
  }));
  const virshVersion = median(await timeEach(20, () => run('virsh', ['-c', URI, 'version', '--daemon'])));
  const virshXml = median(await timeEach(20, () => run('virsh', ['-c', URI, 'dumpxml', dom.name])));
  line('client getVersion (open connection)', clientVersion);
  line('virsh version --daemon (process per call)', virshVersion, `ratio virsh/client ${(virshVersion / clientVersion).toFixed(1)}x`);
  line('client lookupByName + getXmlDesc (open connection)', clientXml);
  line('client connect + lookup + XML + close', clientFresh);
  line('virsh dumpxml (process per call)', virshXml,
    `ratio virsh/client ${(virshXml / clientXml).toFixed(1)}x (fresh connection: ${(virshXml / clientFresh).toFixed(1)}x)`);
}

async function burst(conn: LibvirtConnection, calls: number, rounds: number): Promise<void> {
  const totals: number[] = [];
  const latencies: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: calls }, async () => {
      const t = performance.now();
      await conn.getVersion();
      latencies.push(performance.now() - t);
    }));
    totals.push(performance.now() - t0);
  }
  const total = median(totals);
  line(`${calls} getVersion calls at once, one connection: total`, total, `(${Math.round((calls / total) * 1000)} calls/s, ${rounds} rounds)`);
  line('  per-call latency (issue to reply, queueing included)', median(latencies));
}

async function main(): Promise<void> {
  const conn = await LibvirtConnection.connect({ uri: URI }).catch((err: unknown) => {
    console.error(`cannot reach libvirtd (run scripts/setup.sh test): ${String(err)}`);
    process.exit(1);
  });
  const dom = await defineScratchDomain(conn);
  try {
    await compare(conn, dom);
    await burst(conn, 1000, 5);
  } finally {
    await conn.undefine(dom);
    await conn.close();
  }
}

await main();
