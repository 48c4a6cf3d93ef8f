/**
 * Export / import throughput (issue 15): a volume of SIZE with 10 snapshots (each snapshot's
 * overlay filled with SIZE/11 of data, so the tree holds about SIZE of data), on a local share,
 * against `tar` of the same files (to a file on the same file system) and `qemu-img convert` of
 * the active chain, interleaved in the same run. Import against `tar -x` of the same archive.
 *
 *   npx tsx bench/export.ts [size in MiB, default 2048] [iterations, default 3] [--phases] [--stream] [--gluster]
 *
 * --phases: also where the time goes, per timed run (drivers/remotefs/export/phases.ts): the
 * steps on the event loop and what it waited for (the hashing worker, the writes, the syncs).
 * --stream: also the import of the archive as a stream of chunks (as an upload is read), beside
 * the import that reads the file directly (as an import from a share file does).
 * --gluster: the share is a real GlusterFS volume (test/fixtures/gluster.ts: one brick on this
 * machine, mounted through FUSE by the driver), and the archive, tar's output and tar -x's
 * directory are on that volume too; without it, a local share on the temp directory's file system.
 *
 * Prints medians, ratios (target: export >= 0.9x tar, import >= 0.8x tar -x, verification
 * included; also against tar -x followed by an fsync of each file, the durability the import
 * has before its commit), the load average, and the archive's size against the files' allocated size.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pino } from 'pino';
import { loadDriver } from '../drivers/contract/registry.js';
import type { ExportSupport } from '../drivers/contract/export-support.js';
import type { VolumeDriver } from '../drivers/contract/volume-driver.js';
import { parseServiceConfig } from '../src/api/service-config.js';
import { FileLeaseManager } from '../lib/core/file-lease.js';
import { run } from '../lib/core/process.js';
import { createShare } from '../lib/shares/index.js';
import { qemuIo } from '../lib/qemu/img.js';
import { ArchiveFileStream } from '../drivers/remotefs/export/archive-file-stream.js';
import { createExportFile } from '../drivers/remotefs/export/export-to-share.js';
import { PhaseTotals, recordPhasesInto, timed } from '../drivers/remotefs/export/phases.js';
import { formatStats, summarize, timeInterleaved, type Stats } from './lib/stats.js';
import { createGlusterVolume, type GlusterVolume } from '../test/fixtures/gluster.js';

const MiB = 1024 * 1024;
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const PHASES = process.argv.includes('--phases');
const STREAM = process.argv.includes('--stream');
const GLUSTER = process.argv.includes('--gluster');
const SIZE_MIB = Number(args[0] ?? 2048);
const N = Number(args[1] ?? 3);
const SNAPSHOTS = 10;
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

/** Phases of the timed runs only (warm-up runs have i < 0). */
async function withPhases(into: PhaseTotals, i: number, fn: () => Promise<void>): Promise<void> {
  recordPhasesInto(PHASES && i >= 0 ? into : null);
  try {
    await fn();
  } finally {
    recordPhasesInto(null);
  }
}

/** CPU seconds (user + system) per timed run: this process's threads (the worker, libuv's), or tar's. */
const cpu: Record<string, number[]> = {};
async function cpuOf<T>(label: string, i: number, fn: () => Promise<T>): Promise<T> {
  const c0 = process.cpuUsage();
  const out = await fn();
  const c = process.cpuUsage(c0);
  if (i >= 0) (cpu[label] ??= []).push((c.user + c.system) / 1e6);
  return out;
}

/** tar, with its own CPU time (bash's `times`: the second line is the children's user and system time). */
async function tarWithCpu(label: string, i: number, args: string[]): Promise<void> {
  const r = await run('bash', ['-c', 'tar "$@" && times', 'bash', ...args], { timeoutMs: 3_600_000 });
  const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(r.stdout);
  if (m === null) throw new Error(`no times from bash: ${r.stdout.slice(-200)}`);
  if (i >= 0) (cpu[label] ??= []).push(Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]));
}

function printPhases(totals: PhaseTotals, runs: number): void {
  for (const [k, t] of [...totals.totals].sort((a, b) => b[1].ms - a[1].ms)) console.log(`  ${k.padEnd(28)} ${(t.ms / runs).toFixed(0).padStart(7)} ms/run`);
}

async function main(): Promise<void> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-export-'));
  let gluster: GlusterVolume | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    // finally blocks do not run on a signal: the volume and the scratch directory go now.
    console.error(`\n${signal}: cleaning up`);
    void Promise.allSettled([gluster?.destroy(), rm(scratch, { recursive: true, force: true })]).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (GLUSTER) gluster = await createGlusterVolume();
    const share = gluster === null ? { type: 'local', address: path.join(scratch, 'share') } : { type: 'glusterfs', address: gluster.address };
    const config = parseServiceConfig({ log: { level: 'silent' }, storage: { shares: [share], mountBase: path.join(scratch, 'mnt'), leaseDir: path.join(scratch, 'leases'), fileOwner: null, maxVolumeSizeGiB: 64 } });
    const leases = new FileLeaseManager(config.storage.leaseDir);
    const driver = await loadDriver({ config, leases, logger: pino({ level: 'silent' }), holderId: 'bench' }) as VolumeDriver & ExportSupport;
    await driver.doSetup();
    const dir = createShare(config.storage.shares[0]!, config.storage.mountBase).mountPoint;
    const vid = randomUUID();
    const sizeGiB = Math.max(1, Math.ceil(SIZE_MIB / 1024));
    const ref = { id: vid, sizeGiB, providerLocation: (await driver.createVolume({ id: vid, sizeGiB, format: 'qcow2' })).providerLocation };
    const slice = Math.floor(SIZE_MIB / (SNAPSHOTS + 1));
    const fill = async (i: number) => {
      const file = path.join(dir, (await driver.getSnapshotTree(ref)).activeFile);
      // Distinct, non-zero data per slice (qemu-io writes a pattern; compressible, but neither side compresses).
      await qemuIo(file, 'qcow2', [`write -P ${(i % 250) + 1} ${i * slice}M ${slice}M`]);
    };
    for (let i = 0; i < SNAPSHOTS; i++) {
      await fill(i);
      await driver.createSnapshot({ id: randomUUID(), volumeId: vid }, ref);
    }
    await fill(SNAPSHOTS);
    const files = (await readdir(dir)).filter((n) => n.startsWith(`volume-${vid}`) && !n.endsWith('.info'));
    let allocated = 0;
    for (const f of files) allocated += (await stat(path.join(dir, f))).blocks * 512;
    // On the share's file system, as the export to a share file and the import from one are.
    const work = path.join(dir, `bench-${randomUUID()}`);
    await mkdir(work);
    const archive = path.join(work, 'archive.tar');
    const tarOut = path.join(work, 'plain.tar');
    const converted = path.join(work, 'converted.qcow2');
    const exportPhases = new PhaseTotals();
    const exportOnce = async (i = -1) => withPhases(exportPhases, i, async () => {
      await rm(archive, { force: true });
      const lease = await leases.acquire(vid, `bench-${randomUUID()}`, 600_000);
      try {
        const opened = await driver.openExport(ref, { records: { volume: { name: null, description: null, metadata: {}, bootable: false }, snapshots: {} } }, { lease });
        await cpuOf('export', i, () => timed('export.stream', () => opened.writeTo(createWriteStream(archive))));
      } finally {
        await leases.release(lease);
      }
    });
    // As `volume export --to-share` writes (export-to-share.ts): a temp past the page cache, fsynced, linked.
    let shareFile: string | null = null;
    const exportToShareOnce = async (i: number) => {
      if (shareFile !== null) await rm(shareFile, { force: true });
      const lease = await leases.acquire(vid, `bench-${randomUUID()}`, 600_000);
      try {
        const opened = await driver.openExport(ref, { records: { volume: { name: null, description: null, metadata: {}, bootable: false }, snapshots: {} } }, { lease });
        const file = await createExportFile(dir, `bench-${randomUUID()}.tar`);
        await cpuOf('export (share file)', i, () => opened.writeTo(file.sink));
        shareFile = file.committed();
      } finally {
        await leases.release(lease);
      }
    };
    const active = path.join(dir, (await driver.getSnapshotTree(ref)).activeFile);
    const loadBefore = load();
    const exp = await timeInterleaved(N, {
      export: exportOnce,
      'export (share file)': exportToShareOnce,
      tar: async (i) => { await rm(tarOut, { force: true }); await tarWithCpu('tar -c', i, ['-cf', tarOut, '-C', dir, ...files]); },
      // The export to a share file is durable at its end; this comparator fsyncs tar's archive for that share.
      'tar -c + fsync': async () => {
        await rm(tarOut, { force: true });
        await run('tar', ['-cf', tarOut, '-C', dir, ...files], { timeoutMs: 3_600_000 });
        await run('sync', [tarOut], { timeoutMs: 3_600_000 });
      },
      convert: async () => { await rm(converted, { force: true }); await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', active, converted], { timeoutMs: 3_600_000 }); },
    }, { warmup: 1 });
    if (shareFile !== null) await rm(shareFile, { force: true });
    await exportOnce();
    const archiveBytes = (await stat(archive)).size;
    const untar = path.join(work, 'untar');
    const imported: string[] = [];
    const importPhases = new PhaseTotals();
    const importOnce = (label: string, source: () => Promise<Readable>) => async (i: number) => withPhases(importPhases, label === 'import' ? i : -1, async () => {
      const src = await source();
      try {
        const got = await cpuOf(label, i, () => timed('import.total', () => driver.importVolume(src, { assign: async (m) => ({ volumeId: randomUUID(), snapshots: Object.fromEntries(m.tree.snapshots.map((s) => [s.id, randomUUID()])) }) })));
        imported.push(got.ids.volumeId);
        await timed('bench.delete-after', () => driver.deleteVolume({ id: got.ids.volumeId, sizeGiB, providerLocation: got.providerLocation }));
      } finally {
        src.destroy();
      }
    });
    const imp = await timeInterleaved(N, {
      // Read as an import from a file on a share reads it (export-to-share.ts openExportFile: directly into the import's slabs).
      import: importOnce('import', async () => new ArchiveFileStream(await open(archive, 'r'))),
      // --stream: also as an upload is read, chunk by chunk from a stream (1 MiB chunks here; a socket's are smaller).
      ...(STREAM ? { 'import (stream)': importOnce('import (stream)', async () => createReadStream(archive, { highWaterMark: MiB })) } : {}),
      'tar -x': async (i) => { await rm(untar, { recursive: true, force: true }); await run('mkdir', ['-p', untar]); await tarWithCpu('tar -x', i, ['-xf', archive, '-C', untar]); },
      // The import makes every file durable before its commit; tar -x leaves them in the page cache.
      // This comparator fsyncs each extracted file (coreutils sync with file arguments) to show that share.
      'tar -x + fsync': async () => {
        await rm(untar, { recursive: true, force: true });
        await run('mkdir', ['-p', untar]);
        await run('tar', ['-xf', archive, '-C', untar], { timeoutMs: 3_600_000 });
        await run('sync', (await readdir(untar)).map((n) => path.join(untar, n)), { timeoutMs: 3_600_000 });
      },
    }, { warmup: 1 });
    const line = (label: string, s: Stats | undefined) => console.log(formatStats(label, s as Stats));
    console.log(`export/import of a ${SIZE_MIB} MiB volume with ${SNAPSHOTS} snapshots (${files.length} files), ${gluster === null ? 'local share' : 'GlusterFS share (one brick on this machine, FUSE)'}, n=${N}`);
    line('export (archive to a file, as a stream)', exp.export);
    line('export to a share file (durable, committed)', exp['export (share file)']);
    line('tar -cf of the same files', exp.tar);
    line('tar -cf, then fsync of the archive', exp['tar -c + fsync']);
    line('qemu-img convert of the active chain', exp.convert);
    line('import (verify, rebase, commit; deleted after)', imp.import);
    if (STREAM) line('import, the archive as a stream of chunks', imp['import (stream)']);
    line('tar -xf of the archive', imp['tar -x']);
    line('tar -xf, then fsync of every file', imp['tar -x + fsync']);
    const ratio = (a?: Stats, b?: Stats) => ((b?.median ?? 0) / (a?.median ?? 1)).toFixed(2);
    console.log(`export speed vs tar:            ${ratio(exp.export, exp.tar)}x (target >= 0.9)`);
    console.log(`export to a share file vs tar:  ${ratio(exp['export (share file)'], exp.tar)}x (target >= 0.9); vs tar -cf + fsync: ${ratio(exp['export (share file)'], exp['tar -c + fsync'])}x`);
    console.log(`export speed vs qemu-img convert: ${ratio(exp.export, exp.convert)}x`);
    console.log(`import speed vs tar -x:         ${ratio(imp.import, imp['tar -x'])}x (target >= 0.8)`);
    console.log(`import speed vs tar -x + fsync: ${ratio(imp.import, imp['tar -x + fsync'])}x`);
    if (STREAM) console.log(`import as a stream vs tar -x:   ${ratio(imp['import (stream)'], imp['tar -x'])}x (CPU ${summarize(cpu['import (stream)'] ?? []).median.toFixed(2)} s)`);
    const cpuMedian = (k: string) => summarize(cpu[k] ?? []).median.toFixed(2);
    console.log(`CPU per run (user + system, median; on a loaded machine the ratios follow these): export ${cpuMedian('export')} s, to a share file ${cpuMedian('export (share file)')} s, tar -cf ${cpuMedian('tar -c')} s; import ${cpuMedian('import')} s, tar -xf ${cpuMedian('tar -x')} s`);
    console.log(`load average (1, 5, 15 min) before the timed runs: ${loadBefore}; at the end: ${load()}`);
    console.log(`archive ${(archiveBytes / MiB).toFixed(1)} MiB, files allocated ${(allocated / MiB).toFixed(1)} MiB (ratio ${(archiveBytes / allocated).toFixed(3)})`);
    if (PHASES) {
      console.log('export phases (mean of the timed runs; …-wait: the event loop waited for it; hash.worker-busy: the worker thread):');
      printPhases(exportPhases, N);
      console.log('import phases (import.prepare is inside import.receive):');
      printPhases(importPhases, N);
    }
    await rm(work, { recursive: true, force: true });
    await driver.deleteVolume(ref);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await gluster?.destroy();
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
