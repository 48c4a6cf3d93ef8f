/**
 * Export / import throughput (issue 15): a volume of SIZE with 10 snapshots (each snapshot's
 * overlay filled with SIZE/11 of data, so the tree holds about SIZE of data), on a local share,
 * against `tar` of the same files (to a file on the same file system) and `qemu-img convert` of
 * the active chain, interleaved in the same run. Import against `tar -x` of the same archive.
 *
 *   npx tsx bench/export.ts [size in MiB, default 2048] [iterations, default 3]
 *
 * Prints medians, ratios (target: export >= 0.9x tar, import >= 0.8x tar -x, verification
 * included; also against tar -x followed by an fsync of each file, the durability the import
 * has before its commit), the load average, and the archive's size against the files' allocated size.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadDriver } from '../drivers/contract/registry.js';
import type { ExportSupport } from '../drivers/contract/export-support.js';
import type { VolumeDriver } from '../drivers/contract/volume-driver.js';
import { parseServiceConfig } from '../src/api/service-config.js';
import { FileLeaseManager } from '../lib/core/file-lease.js';
import { run } from '../lib/core/process.js';
import { createShare } from '../lib/shares/index.js';
import { qemuIo } from '../lib/qemu/img.js';
import { formatStats, timeInterleaved, type Stats } from './lib/stats.js';

const MiB = 1024 * 1024;
const SIZE_MIB = Number(process.argv[2] ?? 2048);
const N = Number(process.argv[3] ?? 3);
const SNAPSHOTS = 10;

async function main(): Promise<void> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-export-'));
  try {
    const config = parseServiceConfig({ log: { level: 'silent' }, storage: { shares: [{ type: 'local', address: path.join(scratch, 'share') }], mountBase: path.join(scratch, 'mnt'), leaseDir: path.join(scratch, 'leases'), fileOwner: null, maxVolumeSizeGiB: 64 } });
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
    const archive = path.join(scratch, 'archive.tar');
    const tarOut = path.join(scratch, 'plain.tar');
    const converted = path.join(scratch, 'converted.qcow2');
    const exportOnce = async () => {
      await rm(archive, { force: true });
      const lease = await leases.acquire(vid, `bench-${randomUUID()}`, 600_000);
      try {
        const opened = await driver.openExport(ref, { records: { volume: { name: null, description: null, metadata: {}, bootable: false }, snapshots: {} } }, { lease });
        await opened.writeTo(createWriteStream(archive));
      } finally {
        await leases.release(lease);
      }
    };
    const active = path.join(dir, (await driver.getSnapshotTree(ref)).activeFile);
    const exp = await timeInterleaved(N, {
      export: exportOnce,
      tar: async () => { await rm(tarOut, { force: true }); await run('tar', ['-cf', tarOut, '-C', dir, ...files], { timeoutMs: 3_600_000 }); },
      convert: async () => { await rm(converted, { force: true }); await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', active, converted], { timeoutMs: 3_600_000 }); },
    }, { warmup: 1 });
    await exportOnce();
    const archiveBytes = (await stat(archive)).size;
    const untar = path.join(scratch, 'untar');
    const imported: string[] = [];
    const imp = await timeInterleaved(N, {
      import: async () => {
        // Read as the import from a file on a share reads it (1 MiB chunks).
        const got = await driver.importVolume(createReadStream(archive, { highWaterMark: MiB }), { assign: async (m) => ({ volumeId: randomUUID(), snapshots: Object.fromEntries(m.tree.snapshots.map((s) => [s.id, randomUUID()])) }) });
        imported.push(got.ids.volumeId);
        await driver.deleteVolume({ id: got.ids.volumeId, sizeGiB, providerLocation: got.providerLocation });
      },
      'tar -x': async () => { await rm(untar, { recursive: true, force: true }); await run('mkdir', ['-p', untar]); await run('tar', ['-xf', archive, '-C', untar], { timeoutMs: 3_600_000 }); },
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
    console.log(`export/import of a ${SIZE_MIB} MiB volume with ${SNAPSHOTS} snapshots (${files.length} files), local share, n=${N}`);
    line('export (archive to a file)', exp.export);
    line('tar -cf of the same files', exp.tar);
    line('qemu-img convert of the active chain', exp.convert);
    line('import (verify, rebase, commit; deleted after)', imp.import);
    line('tar -xf of the archive', imp['tar -x']);
    line('tar -xf, then fsync of every file', imp['tar -x + fsync']);
    const ratio = (a?: Stats, b?: Stats) => ((b?.median ?? 0) / (a?.median ?? 1)).toFixed(2);
    console.log(`export speed vs tar:            ${ratio(exp.export, exp.tar)}x (target >= 0.9)`);
    console.log(`export speed vs qemu-img convert: ${ratio(exp.export, exp.convert)}x`);
    console.log(`import speed vs tar -x:         ${ratio(imp.import, imp['tar -x'])}x (target >= 0.8)`);
    console.log(`import speed vs tar -x + fsync: ${ratio(imp.import, imp['tar -x + fsync'])}x`);
    console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log(`archive ${(archiveBytes / MiB).toFixed(1)} MiB, files allocated ${(allocated / MiB).toFixed(1)} MiB (ratio ${(archiveBytes / allocated).toFixed(3)})`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
