/** Unsafe files (links, FIFOs, devices, hostile info files) on a REAL GlusterFS volume (FUSE). */
import { createGlusterVolume } from '../../../fixtures/gluster.js';
import { describeUnsafeFiles } from '../../../fixtures/drivers/unsafe-files.js';

describeUnsafeFiles('a GlusterFS volume (FUSE)', async () => {
  const vol = await createGlusterVolume();
  return {
    share: { type: 'glusterfs', address: vol.address, mountOptions: [], backupVolfileServers: [] },
    teardown: () => vol.destroy(),
  };
});
