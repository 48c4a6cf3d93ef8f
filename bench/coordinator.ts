/**
 * Coordinator benchmark, on libvirtd + the booted test guest + a GlusterFS mount, interleaved in
 * the same run against the bare tool:
 *
 * 1. Freeze window as the guest sees it (longest gap of a background writer in the guest) and
 *    end-to-end time, for 1, 4 and 8 disks: our instance snapshot (freeze, ONE atomic
 *    snapshotCreateXML, thaw) against `virsh snapshot-create-as --quiesce --atomic --disk-only`
 *    over the same disks. Targets: ours <= 1.1x virsh at each count; 8 disks <= 1.5x of 1 disk.
 * 2. Live merge of a 1 GiB delta: our active commit + pivot against `virsh blockcommit --active
 *    --pivot --wait` of a delta of the same size. Target: <= 1.05x.
 *
 *   npx tsx bench/coordinator.ts [rounds]        (default 5 snapshot rounds, 3 merge rounds)
 *
 * Overlays are created by the "storage side" (the stub metadata API) outside the timed part.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import supertest from 'supertest';
import { parseServiceConfig } from '../src/api/service-config.js';
import { run } from '../lib/core/process.js';
import type { LibvirtConnection } from '../lib/libvirt/index.js';
import { chainNames, parseDomainXml } from '../coordinator/domain/disks.js';
import { startCoordinator, type RunningCoordinator } from '../coordinator/server.js';
import { GuestWriter, createOverlay, openTestConnection } from '../test/fixtures/guest/index.js';
import { guestDev } from '../test/fixtures/e2e/coordinator/data.js';
import { bootGuest, type BootedGuest, type Volume } from '../test/fixtures/e2e/coordinator/guest.js';
import { mountShare, type MountedShare } from '../test/fixtures/e2e/coordinator/share.js';
import { StubMetadata } from '../test/fixtures/e2e/coordinator/stub-metadata.js';
import { median } from './lib/stats.js';

const ROUNDS = Number(process.argv[2] ?? 7);
const MERGE_ROUNDS = 3;
const TOKEN = `bench-${randomUUID()}`;
/** The coordinator's inbound token (what the storage side presents); TOKEN is its outbound one, what the stub accepts. */
const COORD_TOKEN = `inbound-${randomUUID()}`;
const SMALL = 64 * 1024 * 1024;
const COUNTS = (process.env.BENCH_COUNTS ?? '1,4,8').split(',').map(Number);
/** Where the coordinator keeps its jobs (default: beside the scratch files, on the same disk as the brick). */
const STATE_BASE = process.env.BENCH_STATE_DIR;
const SKIP_MERGE = process.env.BENCH_SKIP_MERGE === '1';

interface Env { conn: LibvirtConnection; share: MountedShare; guest: BootedGuest; stub: StubMetadata; coord: RunningCoordinator; writerFile: string }
interface Sample { gapMs: number; totalMs: number; freezeMs?: number }

const virsh = (args: string[], timeoutMs = 600_000) => run('virsh', ['-q', '-c', 'qemu:///system', ...args], { timeoutMs });

async function liveChain(env: Env, v: Volume): Promise<string[]> {
  const d = parseDomainXml(await env.conn.getXmlDesc(env.guest.dom)).disks.find((x) => x.serial === v.id);
  return (d ? chainNames(d) : []) as string[];
}

async function withWriter(env: Env, act: () => Promise<void>): Promise<Sample> {
  const writer = await GuestWriter.start(env.conn, env.guest.dom, env.writerFile);
  const t0 = performance.now();
  await act();
  const totalMs = performance.now() - t0;
  const { maxGapMs } = await writer.stop();
  return { gapMs: maxGapMs, totalMs };
}

/** The storage side's overlays, made before the timed part (as they are for virsh). */
async function premake(env: Env, vols: Volume[]): Promise<void> {
  for (const v of vols) {
    const top = (await liveChain(env, v))[0] as string;
    const file = `volume-${v.id}.${randomUUID()}`;
    await createOverlay(env.share.dir, top, file, SMALL);
    env.stub.active.set(v.id, top);
    env.stub.premade.set(v.id, [file]);
  }
}

async function oursSnapshot(env: Env, vols: Volume[]): Promise<Sample> {
  await premake(env, vols);
  let freezeMs: number | undefined;
  const s = await withWriter(env, async () => {
    const res = await supertest(env.coord.url).post(`/v1/instances/${env.guest.dom.uuid}/snapshots?wait=true`)
      .set('x-auth-token', COORD_TOKEN).send({ volumes: vols.map((v) => v.id), quiesce: 'require' });
    if (res.status !== 200 || res.body.job.state !== 'completed') throw new Error(`snapshot failed: ${JSON.stringify(res.body)}`);
    freezeMs = res.body.job.freezeMs as number;
  });
  return { ...s, freezeMs };
}

/** virsh over the same disks; the overlays are made first (outside the timing), as ours are. */
async function virshSnapshot(env: Env, vols: Volume[]): Promise<Sample> {
  const specs: string[] = [];
  for (const v of env.guest.volumes) {
    if (!vols.includes(v)) { specs.push('--diskspec', `${v.target},snapshot=no`); continue; }
    const top = (await liveChain(env, v))[0] as string;
    const file = `volume-${v.id}.${randomUUID()}`;
    await createOverlay(env.share.dir, top, file, SMALL);
    specs.push('--diskspec', `${v.target},snapshot=external,file=${path.join(env.share.dir, file)}`);
    env.stub.active.set(v.id, file);
  }
  return withWriter(env, async () => {
    await virsh(['snapshot-create-as', env.guest.name, '--disk-only', '--atomic', '--quiesce', '--no-metadata', '--reuse-external', ...specs]);
  });
}

function ratioLine(label: string, ours: number, theirs: number, target: number): string {
  const r = ours / theirs;
  return `${label.padEnd(34)} ours ${ours.toFixed(0).padStart(6)} ms   virsh ${theirs.toFixed(0).padStart(6)} ms   ratio ${r.toFixed(2)}x  (target <= ${target}x: ${r <= target ? 'met' : 'MISSED'})`;
}

async function benchFreeze(env: Env): Promise<void> {
  const ext4 = env.guest.volumes.slice(0, 8);
  const gaps: Record<number, { ours: number[]; virsh: number[]; oursTotal: number[]; virshTotal: number[]; freeze: number[] }> = {};
  for (const n of COUNTS) gaps[n] = { ours: [], virsh: [], oursTotal: [], virshTotal: [], freeze: [] };
  const idle: number[] = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    // The noise floor: the same writer, the same time, and nothing frozen.
    idle.push((await withWriter(env, () => new Promise((res) => setTimeout(res, 800)))).gapMs);
    for (const n of COUNTS) {
      const vols = ext4.slice(0, n);
      const g = gaps[n] as (typeof gaps)[number];
      // Alternate who goes first, so neither always runs on a warmer cache.
      const order = r % 2 === 0 ? ['ours', 'virsh'] : ['virsh', 'ours'];
      for (const who of order) {
        const s = who === 'ours' ? await oursSnapshot(env, vols) : await virshSnapshot(env, vols);
        (who === 'ours' ? g.ours : g.virsh).push(s.gapMs);
        (who === 'ours' ? g.oursTotal : g.virshTotal).push(s.totalMs);
        if (s.freezeMs !== undefined) g.freeze.push(s.freezeMs);
      }
    }
  }
  console.log(`\nfreeze window seen by the guest (longest writer gap, median of ${ROUNDS}; idle writer gap ${median(idle)} ms):`);
  for (const n of COUNTS) {
    const g = gaps[n] as (typeof gaps)[number];
    console.log(ratioLine(`  ${n} disk(s), guest gap`, median(g.ours), median(g.virsh), 1.1));
    console.log(`  ${n} disk(s), end to end            ours ${median(g.oursTotal).toFixed(0).padStart(6)} ms   virsh ${median(g.virshTotal).toFixed(0).padStart(6)} ms` +
      `   (ours freeze→thaw answered: ${median(g.freeze).toFixed(0)} ms)`);
  }
  if (gaps[1] && gaps[8]) {
    const one = median(gaps[1].ours);
    const eight = median(gaps[8].ours);
    console.log(`  ours, 8 disks vs 1 disk: ${(eight / one).toFixed(2)}x (target <= 1.5x: ${eight / one <= 1.5 ? 'met' : 'MISSED'})`);
  }
}

/** A fresh overlay on the blank disk and 1 GiB written into it by the guest: the delta to merge. */
async function prepareDelta(env: Env, v: Volume): Promise<string[]> {
  const top = (await liveChain(env, v))[0] as string;
  const file = `volume-${v.id}.${randomUUID()}`;
  await createOverlay(env.share.dir, top, file, 2048 * 1024 * 1024);
  await virsh(['snapshot-create-as', env.guest.name, '--disk-only', '--atomic', '--no-metadata', '--reuse-external',
    ...env.guest.volumes.flatMap((x) => ['--diskspec', x === v ? `${x.target},snapshot=external,file=${path.join(env.share.dir, file)}` : `${x.target},snapshot=no`])]);
  const dev = await guestDev(env.guest, v);
  await env.guest.exec(`dd if=/dev/zero of=/dev/${dev} bs=1M count=1024 oflag=direct 2>/dev/null; sync`, 600_000);
  return liveChain(env, v);
}

async function oursMerge(env: Env, v: Volume, chain: string[]): Promise<number> {
  const opId = randomUUID();
  const t0 = performance.now();
  await supertest(env.coord.url).post('/v1/merges').set('x-auth-token', COORD_TOKEN).send({
    operation_id: opId, fencing_token: 1, volume_id: v.id, snapshot_id: randomUUID(), operation: 'active_commit',
    top: chain[0], base: chain[1], expected_chain: chain, result_chain: chain.slice(1),
  }).expect(202);
  const job = await env.coord.engine.settle(opId);
  if (job?.state !== 'completed') throw new Error(`merge failed: ${job?.error}`);
  return performance.now() - t0;
}

async function virshMerge(env: Env, v: Volume, chain: string[]): Promise<number> {
  const t0 = performance.now();
  await virsh(['blockcommit', env.guest.name, v.target, '--active', '--pivot', '--wait', '--keep-relative', '--base', path.join(env.share.dir, chain[1] as string)]);
  return performance.now() - t0;
}

async function benchMerge(env: Env): Promise<void> {
  const v = env.guest.volumes[8] as Volume;
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < MERGE_ROUNDS; r += 1) {
    for (const who of r % 2 === 0 ? ['ours', 'virsh'] : ['virsh', 'ours']) {
      const chain = await prepareDelta(env, v);
      if (who === 'ours') ours.push(await oursMerge(env, v, chain));
      else theirs.push(await virshMerge(env, v, chain));
    }
  }
  console.log(`\nlive merge of a 1 GiB delta (active commit + pivot, median of ${MERGE_ROUNDS}):`);
  console.log(ratioLine('  request to verified chain', median(ours), median(theirs), 1.05));
}

async function main(): Promise<void> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'bench-coord-'));
  const conn = await openTestConnection();
  const share = await mountShare();
  let guest: BootedGuest | undefined;
  let stub: StubMetadata | undefined;
  let coord: RunningCoordinator | undefined;
  try {
    guest = await bootGuest(conn, share.dir, 8, { blankMiB: 2048 });
    stub = new StubMetadata(TOKEN, share.dir, SMALL);
    await stub.start();
    const config = parseServiceConfig({ log: { level: 'silent' }, coordinator: { port: 0, serviceToken: TOKEN, inboundToken: COORD_TOKEN, selfRegister: false, stateDir: path.join(STATE_BASE ?? scratch, `state-${process.pid}`), metadataApi: stub.url } });
    coord = await startCoordinator(config, { log: pino({ level: 'silent' }) });
    const writerFile = `/mnt/${await guestDev(guest, guest.volumes[0] as Volume)}/writer.log`;
    const env: Env = { conn, share, guest, stub, coord, writerFile };
    console.log(`guest ${guest.name}: 8 ext4 volumes + one 2 GiB blank volume on GlusterFS ${share.volume.address}`);
    await benchFreeze(env);
    if (!SKIP_MERGE) await benchMerge(env);
  } finally {
    await coord?.stop().catch(() => undefined);
    await stub?.stop().catch(() => undefined);
    await guest?.cleanup().catch(() => undefined);
    await share.destroy().catch(() => undefined);
    await conn.close().catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
