/**
 * Issue 15 item 5: the branchy tree exported from a REAL GlusterFS share imports onto a local
 * directory share (ids kept: byte for byte the same files), and from there back onto GlusterFS
 * (new ids: every point reads back the same).
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createShare } from '../../../../../lib/shares/index.js';
import type { ExportSupport } from '../../../../../drivers/contract/export-support.js';
import type { VolumeDriver } from '../../../../../drivers/contract/volume-driver.js';
import { createGlusterVolume, type GlusterVolume } from '../../../../fixtures/gluster.js';
import { shareListing } from '../../../../fixtures/shares.js';
import { makeHarness, type DriverHarness } from '../../../../fixtures/drivers/harness.js';
import { exportToBuffer, importBuffer, makeBranchyTree, verifyPoints } from '../../../../fixtures/export/tree.js';

describe('export from GlusterFS, import onto a local share and back (real glusterd)', function () {
  this.timeout(600_000);
  let gv: GlusterVolume | undefined;
  let tmp: string;
  let gh: DriverHarness;
  let lh: DriverHarness;

  before(async () => {
    gv = await createGlusterVolume();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'export-cross-'));
    gh = await makeHarness({ type: 'glusterfs', address: gv.address, mountOptions: [], backupVolfileServers: [] });
    lh = await makeHarness({ type: 'local', address: path.join(tmp, 'local'), mountOptions: [], backupVolfileServers: [] });
    await gh.driver.doSetup();
    await lh.driver.doSetup();
  });
  after(async () => {
    // The volume first: destroy() unmounts every mount of it, the driver's included.
    await gv?.destroy();
    await gh?.cleanup();
    await lh?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('round trip: identical files on the local share, the same points back on GlusterFS', async () => {
    const g = gh.driver as VolumeDriver & ExportSupport;
    const l = lh.driver as VolumeDriver & ExportSupport;
    const gdir = createShare(gh.config.storage.shares[0]!, gh.config.storage.mountBase).mountPoint;
    const ldir = createShare(lh.config.storage.shares[0]!, lh.config.storage.mountBase).mountPoint;
    const src = await makeBranchyTree(g, () => gdir);
    const first = await exportToBuffer(g, gh.leases, src.volumeId, gv!.address);
    const keep = await importBuffer(l, Readable.from([first.archive]), undefined, (m) => ({ volumeId: m.volume.id, snapshots: Object.fromEntries(m.tree.snapshots.map((s) => [s.id, s.id])) }));
    const images = async (dir: string) => (await shareListing(dir)).filter((x) => x.startsWith(`volume-${src.volumeId}`) && !x.startsWith(`volume-${src.volumeId}.info`)).map((x) => `${x.split(' ')[0]} ${x.split(' ')[2]} ${x.split(' ')[5]}`);
    expect(await images(ldir)).to.deep.equal(await images(gdir));
    await verifyPoints(l, ldir, src.volumeId, keep.providerLocation, src.points, src.ids);
    const second = await exportToBuffer(l, lh.leases, src.volumeId, keep.providerLocation);
    // The same tree, the same files: only the time of export differs between the two archives' manifests.
    expect({ ...second.manifest, createdAt: '' }).to.deep.equal({ ...first.manifest, createdAt: '' });
    const back = await importBuffer(g, Readable.from([second.archive]));
    const ids = Object.fromEntries(Object.entries(src.ids).map(([n, id]) => [n, back.ids.snapshots[id] as string]));
    await verifyPoints(g, gdir, back.ids.volumeId, gv!.address, src.points, ids);
  });
});
