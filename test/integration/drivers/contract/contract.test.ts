/** The driver contract on a local-directory share (the embedded default). */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describeDriverContract } from '../../../fixtures/drivers/contract-suite.js';

describeDriverContract('a local directory', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'local-share-'));
  // The driver creates the directory itself when it is missing.
  const address = path.join(tmp, 'share0');
  return {
    share: { type: 'local', address, mountOptions: [], backupVolfileServers: [] },
    teardown: () => rm(tmp, { recursive: true, force: true }),
  };
});
