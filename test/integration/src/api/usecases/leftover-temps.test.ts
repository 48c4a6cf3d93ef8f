/**
 * A temporary the service could not remove because its share refused (a GlusterFS brick killed
 * mid-write answers ENOTCONN to the write and to the clean-up; here the real file system refuses
 * through an immutable flag, which even root cannot unlink) is removed by the service's own
 * periodic sweep once the share lets it, with no restart; the volume's directory is then exactly
 * its files again. Before, nothing removed it until the next start.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { leftoverTemps, removeTemp } from '../../../../../lib/core/leftover-temps.js';
import { runRecovery } from '../../../../../src/api/recovery.js';
import { BACKENDS, eventually, remotefsServiceHooks, type RemotefsService } from '../../../../fixtures/api/harness.js';

const ADMIN = { 'X-Auth-Token': 'admin' };

for (const backend of BACKENDS) {
  describe(`api: temporaries a share refused to let go, removed by the sweep (${backend.name}, real driver)`, function () {
    this.timeout(300_000);
    let s: RemotefsService;
    remotefsServiceHooks(backend, 'qcs-leftover-', (x) => { s = x; });
    let pinned: string | null = null;
    afterEach(() => {
      if (pinned !== null) execFileSync('chattr', ['-i', pinned], { stdio: 'ignore' });
      pinned = null;
    });

    it('keeps it while the file system refuses, removes it in the next sweep once it answers', async () => {
      const created = await s.http.post('/v3/volumes').set(ADMIN).send({ volume: { size: 1, name: 'leftover' } }).expect(202);
      const id = created.body.volume.id as string;
      await eventually(async () => ((await s.http.get(`/v3/volumes/${id}`).set(ADMIN).expect(200)).body.volume.status === 'available' ? true : undefined), 120_000);
      const share = path.join(s.dir, 'share');
      const before = fs.readdirSync(share).sort();
      const temp = path.join(share, `.volume-${id}.info.0123456789abcdef.tmp`);
      fs.writeFileSync(temp, '{}');
      execFileSync('chattr', ['+i', temp]);
      pinned = temp;
      await removeTemp(temp);
      expect(leftoverTemps()).to.include(temp);

      await runRecovery(s.svc.deps, 'sweep');
      expect(fs.existsSync(temp), 'removed while the file system refuses').to.equal(true);

      execFileSync('chattr', ['-i', temp]);
      pinned = null;
      await runRecovery(s.svc.deps, 'sweep');
      expect(fs.existsSync(temp)).to.equal(false);
      expect(leftoverTemps()).to.not.include(temp);
      expect(fs.readdirSync(share).sort()).to.deep.equal(before);
    });
  });
}
