/**
 * The user message of an extend that failed past its commit point is withdrawn when the recovery
 * pass completes the extend from the info file (issue 17): the volume did grow, so "failed to
 * extend" must not stand. Real RemoteFS driver and qemu-img on a local share, SQLite and MariaDB,
 * the failed-extend test's set-up (a throw right after the extend's intent is written); the pass
 * is called directly (no periodic sweep), so the message is seen before and gone after. An earlier
 * failure's message of the same volume stays.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { settleFailedExtends } from '../../../../src/api/usecases/failed-extends.js';
import { setStepHook } from '../../../../drivers/remotefs/snapshots/hooks.js';
import { availableVolume, extendFailingPastCommit, volumeRow } from '../../../fixtures/api/failed-extend.js';
import { BACKENDS, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

for (const backend of BACKENDS) {
  describe(`api: a failed extend completed by recovery withdraws its user message (${backend.name})`, function () {
    this.timeout(180_000);
    let svc: RunningService;
    let http: ReturnType<typeof supertest>;
    remotefsServiceHooks(backend, 'qcs-extend-msg-', (s) => ({ svc, http } = s), { leaseTtlMs: 2000 });
    afterEach(() => setStepHook(null));

    const volume = (id: string) => volumeRow(http, id);
    const messagesOf = async (id: string) => ((await http.get('/v3/messages').query({ resource_uuid: id }).set(auth('alice')).expect(200)).body.messages as { event_id: string }[]).map((m) => m.event_id);

    it('the message stands while the extend is failed and goes when the pass completes it; an earlier failure\'s stays', async () => {
      const vid = await availableVolume(http);
      // An earlier failure of this volume that nothing made good (as an extend refused before it
      // changed anything leaves): its message is another operation's and must stay.
      const earlier = { id: randomUUID(), projectId: 'p-alice', requestId: `req-${randomUUID()}`, eventId: 'VOLUME_VOLUME_007_103', messageLevel: 'ERROR' as const,
        userMessage: 'extend volume: refused', resourceType: 'VOLUME', resourceUuid: vid, operationId: randomUUID(), createdAt: new Date(Date.now() - 60_000), expiresAt: new Date(Date.now() + 3_600_000) };
      await svc.deps.repos.userMessages.insert(earlier);
      // An extend to 2 GiB failing right after its intent: the operation failed, the volume error_extending.
      expect(await extendFailingPastCommit(http, vid)).to.deep.equal({ thrown: true, state: 'failed' });
      expect((await volume(vid)).status).to.equal('error_extending');
      expect((await messagesOf(vid)).sort()).to.deep.equal(['VOLUME_VOLUME_007_010', 'VOLUME_VOLUME_007_103']);

      const reports = await settleFailedExtends(svc.deps);
      expect(reports).to.deep.equal([{ volumeId: vid, sizeGiB: 2, withdrawnMessages: 1 }]);
      expect(await volume(vid)).to.include({ status: 'available', size: 2 });
      expect(await messagesOf(vid)).to.deep.equal(['VOLUME_VOLUME_007_103']);
      // Nothing left to settle: a second pass withdraws nothing more.
      expect(await settleFailedExtends(svc.deps)).to.deep.equal([]);
      expect(await messagesOf(vid)).to.deep.equal(['VOLUME_VOLUME_007_103']);
    });
  });
}
