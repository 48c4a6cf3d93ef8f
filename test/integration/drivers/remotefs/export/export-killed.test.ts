/**
 * SIGKILL during an export: the source is untouched (an export writes nothing) and, once the dead
 * process's lease has expired, the volume exports and imports as before.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isStorageError } from '../../../../../lib/core/errors.js';
import { createShare } from '../../../../../lib/shares/index.js';
import type { ExportSupport } from '../../../../../drivers/contract/export-support.js';
import type { VolumeDriver } from '../../../../../drivers/contract/volume-driver.js';
import { shareListing } from '../../../../fixtures/shares.js';
import { makeHarness, type DriverHarness } from '../../../../fixtures/drivers/harness.js';
import { exportToBuffer, importBuffer, makeBranchyTree, verifyPoints } from '../../../../fixtures/export/tree.js';

describe('SIGKILL during an export', function () {
  this.timeout(300_000);
  let tmp: string;
  let h: DriverHarness;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'export-killed-'));
    h = await makeHarness({ type: 'local', address: path.join(tmp, 'share0'), mountOptions: [], backupVolfileServers: [] }, { leaseTtlMs: 2000 });
    await h.driver.doSetup();
  });
  after(async () => {
    await h?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('leaves the source untouched; the volume exports and imports afterwards', async () => {
    const driver = h.driver as VolumeDriver & ExportSupport;
    const address = h.config.storage.shares[0]!.address;
    const dir = createShare(h.config.storage.shares[0]!, h.config.storage.mountBase).mountPoint;
    const src = await makeBranchyTree(driver, () => dir);
    const before = await shareListing(dir);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '../../../../fixtures/export/export-child.ts'), JSON.stringify(h.config), src.volumeId, address], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('streaming')) resolve(); });
      child.on('exit', () => reject(new Error('the export child exited before streaming')));
    });
    child.kill('SIGKILL');
    expect(await exited).to.equal('SIGKILL');
    expect(await shareListing(dir)).to.deep.equal(before);
    // The dead process's lease blocks the volume until it expires (2 s here): polled with a deadline.
    const deadline = Date.now() + 60_000;
    let out: Awaited<ReturnType<typeof exportToBuffer>> | undefined;
    while (out === undefined) {
      try {
        out = await exportToBuffer(driver, h.leases, src.volumeId, address);
      } catch (err) {
        if (!isStorageError(err, 'LEASE_HELD') || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect(await shareListing(dir)).to.deep.equal(before);
    const imported = await importBuffer(driver, Readable.from([out.archive]));
    const ids = Object.fromEntries(Object.entries(src.ids).map(([n, id]) => [n, imported.ids.snapshots[id] as string]));
    await verifyPoints(driver, dir, imported.ids.volumeId, address, src.points, ids);
  });
});
