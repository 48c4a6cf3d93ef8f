/**
 * User messages (/messages, 3.3): a real asynchronous failure (a create on a share with no room,
 * real RemoteFS driver on a local share whose reserved percentage is 100) leaves one message its
 * project's members can read, nobody else's; an admin sees any; the stock `cinder` client lists,
 * shows and deletes it; expired ones are hidden and purged. SQLite and MariaDB.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type supertest from 'supertest';
import { run } from '../../../../lib/core/process.js';
import { purgeExpiredMessages } from '../../../../src/api/user-messages/purge.js';
import { BACKENDS, eventually, remotefsServiceHooks, type RemotefsService } from '../../../fixtures/api/harness.js';

const TTL_SECONDS = 3600;

for (const backend of BACKENDS) {
  describe(`api: user messages of asynchronous failures (${backend.name})`, function () {
    this.timeout(180_000);
    let svc: RemotefsService['svc'];
    let http: ReturnType<typeof supertest>;
    const project = `p-msg-${randomUUID().slice(0, 8)}`;
    const as = (user: string, proj: string, roles = 'member') => ({ 'X-Auth-Token': `${user}:${proj}`, 'X-Roles': roles });
    const alice = as('alice', project);
    const bob = as('bob', `${project}-other`);
    const admin = as('root', 'p-admin', 'admin,member');

    // Every byte of the share reserved: placement finds no room, as on a full share.
    remotefsServiceHooks(backend, 'qcs-messages-', (s) => ({ svc, http } = s), {
      auth: 'noauth', api: { messageTtlSeconds: TTL_SECONDS }, storage: { reservedPercentage: 100 },
    });

    let vid: string;
    let requestId: string;
    let messageId: string;

    it('a create refused for want of space leaves one ERROR message with a stable event id and a plain cause', async () => {
      requestId = `req-${randomUUID()}`;
      const r = await http.post('/v3/volumes').set({ ...alice, 'X-OpenStack-Request-ID': requestId }).send({ volume: { size: 1 } }).expect(202);
      vid = r.body.volume.id as string;
      const opId = r.headers['x-operation-id'] as string;
      const op = await eventually(async () => {
        const got = (await http.get(`/v3/operations/${opId}`).set(alice).expect(200)).body.operation as { state: string };
        return got.state === 'running' ? undefined : got;
      }, 60_000);
      expect(op.state).to.equal('failed');
      const list = (await http.get('/v3/messages').set(alice).expect(200)).body.messages as Record<string, unknown>[];
      expect(list).to.have.length(1);
      const m = list[0]!;
      expect(m).to.include({
        event_id: 'VOLUME_VOLUME_001_003', message_level: 'ERROR', resource_type: 'VOLUME', resource_uuid: vid, request_id: requestId,
        user_message: 'schedule allocate volume: No share has enough free space for it.',
      });
      const created = Date.parse(`${String(m.created_at)}Z`);
      expect(Date.parse(`${String(m.guaranteed_until)}Z`) - created).to.equal(TTL_SECONDS * 1000);
      expect(m.expires_at).to.equal(m.guaranteed_until);
      messageId = m.id as string;
      const shown = (await http.get(`/v3/${project}/messages/${messageId}`).set(alice).expect(200)).body.message;
      expect(shown).to.deep.equal(m);
      // Filters (3.5): by resource, by event, by request.
      for (const q of [`resource_uuid=${vid}`, 'event_id=VOLUME_VOLUME_001_003', `request_id=${requestId}`, 'message_level=ERROR']) {
        expect((await http.get(`/v3/messages?${q}`).set(alice).expect(200)).body.messages, q).to.have.length(1);
      }
      expect((await http.get('/v3/messages?event_id=VOLUME_VOLUME_007_010').set(alice).expect(200)).body.messages).to.have.length(0);
    });

    it('another project sees nothing and cannot delete it; an admin sees it across projects', async () => {
      expect((await http.get('/v3/messages').set(bob).expect(200)).body.messages).to.deep.equal([]);
      expect(JSON.stringify((await http.get(`/v3/messages/${messageId}`).set(bob).expect(404)).body)).to.include('MESSAGE_NOT_FOUND');
      const refused = await http.delete(`/v3/messages/${messageId}`).set(bob).expect(404);
      expect(JSON.stringify(refused.body)).to.include('MESSAGE_NOT_FOUND');
      await http.get(`/v3/messages/${messageId}`).set(alice).expect(200);
      await http.get('/v3/messages?all_tenants=true').set(bob).expect(403);
      const all = (await http.get('/v3/messages?all_tenants=true').set(admin).expect(200)).body.messages as { id: string }[];
      expect(all.map((x) => x.id)).to.include(messageId);
      await http.get(`/v3/messages/${messageId}`).set(admin).expect(200);
    });

    it('refuses bad filters and an unknown marker with INVALID_INPUT, changing nothing', async () => {
      for (const q of ['event_id=bogus', 'message_level=INFO', 'resource_type=DISK', 'limit=0', `marker=${randomUUID()}`, 'bogus=1']) {
        const r = await http.get(`/v3/messages?${q}`).set(alice).expect(400);
        expect(JSON.stringify(r.body), q).to.include('INVALID_INPUT');
      }
      await http.get('/v3/messages/not-a-uuid').set(alice).expect(400);
      expect((await http.get('/v3/messages').set(alice).expect(200)).body.messages).to.have.length(1);
    });

    it('the stock cinder client lists, shows and deletes it', async () => {
      const cinder = async (...args: string[]) => (await run('cinder', [
        '--os-auth-type', 'noauth', '--os-user-id', 'alice', '--os-project-id', project, '--os-endpoint', `${svc.url}/v3`,
        '--os-volume-api-version', '3.3', ...args,
      ], { timeoutMs: 60_000 })).stdout;
      const listed = await cinder('message-list');
      expect(listed).to.include(messageId).and.include('VOLUME_VOLUME_001_003').and.include(vid);
      const shown = await cinder('message-show', messageId);
      expect(shown).to.match(/\|\s*user_message\s*\|\s*schedule allocate volume: No share has enough free space for it\./);
      expect(shown).to.match(new RegExp(`\\|\\s*request_id\\s*\\|\\s*${requestId}`));
      await cinder('message-delete', messageId);
      expect(await cinder('message-list')).to.not.include(messageId);
      await http.get(`/v3/messages/${messageId}`).set(alice).expect(404);
    });

    it('an expired message is hidden at once and purged by the periodic pass', async () => {
      const repos = svc.deps.repos;
      const past = new Date(Date.now() - 10_000);
      const id = randomUUID();
      await repos.userMessages.insert({
        id, projectId: project, requestId: `req-${randomUUID()}`, eventId: 'VOLUME_VOLUME_007_010', messageLevel: 'ERROR', userMessage: 'extend volume: Volume Driver failed to extend volume.',
        resourceType: 'VOLUME', resourceUuid: vid, operationId: null, createdAt: new Date(past.getTime() - 1000), expiresAt: past,
      });
      await http.get(`/v3/messages/${id}`).set(alice).expect(404);
      expect((await http.get('/v3/messages').set(alice).expect(200)).body.messages).to.deep.equal([]);
      expect(await purgeExpiredMessages(svc.deps)).to.equal(1);
      expect(await purgeExpiredMessages(svc.deps)).to.equal(0);
    });
  });
}
