/** Unsafe files (links, FIFOs, devices, hostile info files) on a local-directory share. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describeUnsafeFiles } from '../../../fixtures/drivers/unsafe-files.js';

describeUnsafeFiles('a local directory', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'unsafe-share-'));
  return {
    share: { type: 'local', address: path.join(tmp, 'share0'), mountOptions: [], backupVolfileServers: [] },
    teardown: () => rm(tmp, { recursive: true, force: true }),
  };
});
