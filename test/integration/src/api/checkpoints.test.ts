/**
 * os-checkpoints on the storage side, SQLite and MariaDB: the instance's host is found from the
 * project's attachments and its coordinator from the registry (with the registered credential,
 * never a URL from the request); the row follows the coordinator's answers; refusals (unknown
 * instance, another project's instance, a coordinator's refusal, deleting a checkpoint's member
 * snapshot alone) answer stable codes and change nothing. The coordinator here is a recording
 * HTTP stand-in answering as coordinator/checkpoint/routes.ts does; the real coordinator and
 * guest are driven by test/integration/coordinator/checkpoint/checkpoint-guest.test.ts.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { cliAt } from '../../../fixtures/cli/in-process-cli.js';
import { BACKENDS, auth, eventually, testServiceHooks } from '../../../fixtures/api/harness.js';
import { createVolume, waitSnapshot, waitVolume } from '../../../fixtures/api/helpers.js';

interface Seen { method: string; url: string; token: string | undefined; body: unknown }

const HOST_FILE = '/var/lib/nova/mnt/4986b85aad5058bca89aa3a775680f22/volume-7e5d0f55-f8e0-4b8e-9f0a-2f0b9a4b2c11.snap';

/** Answers the coordinator's checkpoint routes; `refuse` makes the next take answer an error body. */
function standIn(): { server: http.Server; seen: Seen[]; refuse: { next: boolean }; url: () => string } {
  const seen: Seen[] = [];
  const refuse = { next: false };
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => { text += c.toString(); });
    req.on('end', () => {
      const body = text ? JSON.parse(text) as Record<string, unknown> : undefined;
      seen.push({ method: req.method ?? '', url: req.url ?? '', token: req.headers['x-auth-token'] as string | undefined, body });
      const m = /^\/v1\/instances\/([0-9a-f-]{36})\/checkpoints(?:\/([0-9a-f-]{36}))?(\/revert)?$/.exec(req.url ?? '');
      const answer = (status: number, json?: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(json === undefined ? undefined : JSON.stringify(json)); };
      if (!m) return answer(404, { error: { code: 'NOT_FOUND', message: 'no route' } });
      if (req.method === 'POST' && !m[2]) {
        if (refuse.next) {
          refuse.next = false;
          // The host names the disk's file by its own path: the row must show it as on its share.
          return answer(409, { error: { code: 'CHECKPOINT_UNMANAGED_DISK', message: `disk vdc is not a product-managed volume (${HOST_FILE} is not on a share of it)` } });
        }
        return answer(201, { checkpoint: record(m[1] as string) });
      }
      if (req.method === 'POST' && m[3]) return answer(200, { checkpoint: record(m[1] as string), detached_volumes: detachOnRevert.splice(0) });
      if (req.method === 'DELETE') { res.writeHead(204); return res.end(); }
      return answer(405, { error: { code: 'INVALID_INPUT', message: 'not here' } });
    });
  });
  return { server, seen, refuse, url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/** Volumes the stand-in's next revert reports as detached (attached after the checkpoint). */
const detachOnRevert: string[] = [];
/** The volumes the stand-in reports as the instance's (set once the test attached one). */
let lastVolumes: string[] = [];
const CK = randomUUID();
function record(instanceUuid: string) {
  return {
    id: CK, instanceUuid, name: 'c1', description: '', created: new Date().toISOString(), mode: 'consistent', status: 'available',
    volumes: lastVolumes.map((volumeId, i) => ({ volumeId, target: `vd${String.fromCharCode(98 + i)}`, snapshotPoint: `/mnt/share/volume-${volumeId}.${CK}`, sizeBytes: 2 ** 30 })),
    excluded: [], memorySize: 123456, definitionSha256: 'a'.repeat(64),
  };
}

for (const backend of BACKENDS) {
  describe(`api os-checkpoints (${backend.name})`, function () {
    this.timeout(120_000);
    const t = testServiceHooks(backend);
    const coord = standIn();
    const CREDENTIAL = `checkpoint-test-credential-${randomUUID()}`;
    const instance = randomUUID();
    let vol = '';
    const codeOf = (r: { body: Record<string, { error_code?: string }> }) => Object.values(r.body)[0]?.error_code;

    before(async () => {
      await new Promise<void>((resolve) => coord.server.listen(0, '127.0.0.1', resolve));
      await t.http.put('/v3/os-compute-hosts/ck1').set(auth('admin')).send({ compute_host: { coordinator_endpoint: coord.url(), credential: CREDENTIAL } }).expect(201);
      vol = await createVolume(t, 'alice');
      await waitVolume(t, vol, 'available');
      await t.http.post(`/v3/volumes/${vol}/action`).set(auth('alice')).send({ 'os-attach': { instance_uuid: instance, mountpoint: '/dev/vdb', host_name: 'ck1' } }).expect(202);
      await waitVolume(t, vol, 'in-use');
      lastVolumes = [vol];
    });
    after(async () => { await new Promise((r) => coord.server.close(r)); });

    const rows = async () => (await t.svc.deps.repos.checkpoints.list(null)).map((c) => `${c.id}:${c.status}`).sort();

    it('refuses an instance no volume of the project is attached to (CHECKPOINT_INSTANCE_UNKNOWN), sending nothing', async () => {
      const before = await rows();
      const sent = coord.seen.length;
      const r = await t.http.post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: randomUUID() } });
      expect(r.status).to.equal(404);
      expect(codeOf(r)).to.equal('CHECKPOINT_INSTANCE_UNKNOWN');
      // Another project's instance is unknown too: bob has no volume attached to it.
      const other = await t.http.post('/v3/os-checkpoints').set(auth('bob')).send({ checkpoint: { instance_uuid: instance } });
      expect(other.status).to.equal(404);
      expect(codeOf(other)).to.equal('CHECKPOINT_INSTANCE_UNKNOWN');
      const bad = await t.http.post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, mode: 'sideways' } });
      expect(bad.status).to.equal(400);
      expect(codeOf(bad)).to.equal('INVALID_INPUT');
      expect(await rows()).to.deep.equal(before);
      expect(coord.seen.length).to.equal(sent);
    });

    it('creates through the registered coordinator, lists, shows, reverts and deletes', async () => {
      const r = await t.http.post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name: 'c1', mode: 'live', exclude: ['vdc'] } });
      expect(r.status, r.text).to.equal(202);
      const id = r.body.checkpoint.id as string;
      expect(r.body.checkpoint.status).to.equal('creating');
      const shown = await eventually(async () => {
        const g = await t.http.get(`/v3/os-checkpoints/${id}`).set(auth('alice'));
        return g.body.checkpoint?.status === 'available' ? g.body.checkpoint as Record<string, unknown> : undefined;
      }, 30_000);
      expect(shown).to.include({ instance_uuid: instance, name: 'c1', memory_size: 123456, definition_sha256: 'a'.repeat(64) });
      expect(shown.volumes).to.deep.equal([{ volume_id: vol, target: 'vdb', snapshot_point: `volume-${vol}.${CK}`, snapshot_id: null }]);
      const take = coord.seen.find((s) => s.method === 'POST' && s.url === `/v1/instances/${instance}/checkpoints`);
      expect(take?.token).to.equal(CREDENTIAL);
      // The take carries the row's id: after a crash here the recovery pass asks the host for it.
      expect(take?.body).to.deep.equal({ id, name: 'c1', mode: 'live', exclude: ['vdc'] });
      // Listing: alice sees it, bob does not, the instance filter works.
      expect((await t.http.get('/v3/os-checkpoints').set(auth('alice'))).body.checkpoints.map((c: { id: string }) => c.id)).to.include(id);
      expect((await t.http.get('/v3/os-checkpoints').set(auth('bob'))).body.checkpoints.map((c: { id: string }) => c.id)).to.not.include(id);
      expect((await t.http.get(`/v3/os-checkpoints?instance_uuid=${randomUUID()}`).set(auth('alice'))).body.checkpoints).to.deep.equal([]);
      expect(codeOf(await t.http.get(`/v3/os-checkpoints/${id}`).set(auth('bob')).expect(404))).to.equal('CHECKPOINT_NOT_FOUND');

      // A volume hot-plugged after the checkpoint: the revert reports it detached, the metadata follows.
      const late = await createVolume(t, 'alice');
      await waitVolume(t, late, 'available');
      await t.http.post(`/v3/volumes/${late}/action`).set(auth('alice')).send({ 'os-attach': { instance_uuid: instance, mountpoint: '/dev/vdc', host_name: 'ck1' } }).expect(202);
      await waitVolume(t, late, 'in-use');
      detachOnRevert.push(late);
      await t.http.post(`/v3/os-checkpoints/${id}/action`).set(auth('alice')).send({ revert: { paused: true } }).expect(202);
      await eventually(async () => (coord.seen.some((s) => s.url === `/v1/instances/${instance}/checkpoints/${id}/revert`) ? true : undefined), 30_000);
      expect(coord.seen.find((s) => s.url.endsWith('/revert'))?.body).to.deep.equal({ paused: true });
      await eventually(async () => ((await t.svc.deps.repos.checkpoints.get(id))?.status === 'available' ? true : undefined), 30_000);
      await waitVolume(t, late, 'available');
      expect(await t.svc.deps.repos.attachments.activeOf(late)).to.deep.equal([]);
      expect((await t.svc.deps.repos.attachments.activeOf(vol)).length, 'the checkpoint\'s own volume stays attached').to.equal(1);

      await t.http.delete(`/v3/os-checkpoints/${id}`).set(auth('alice')).expect(202);
      await eventually(async () => ((await t.svc.deps.repos.checkpoints.get(id)) === null ? true : undefined), 30_000);
      expect(coord.seen.some((s) => s.method === 'DELETE' && s.url === `/v1/instances/${instance}/checkpoints/${id}`)).to.equal(true);
      expect(codeOf(await t.http.get(`/v3/os-checkpoints/${id}`).set(auth('alice')).expect(404))).to.equal('CHECKPOINT_NOT_FOUND');
    });

    it("records the coordinator's refusal with its code as the row's error; a revert of it is refused", async () => {
      coord.refuse.next = true;
      const r = await t.http.post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance } }).expect(202);
      const id = r.body.checkpoint.id as string;
      const failed = await eventually(async () => {
        const g = await t.http.get(`/v3/os-checkpoints/${id}`).set(auth('alice'));
        return g.body.checkpoint?.status === 'error' ? g.body.checkpoint as { error: string } : undefined;
      }, 30_000);
      expect(failed.error).to.match(/vdc is not a product-managed volume/);
      expect(failed.error, 'the file named as on its share, not by the host\'s path').to.include(`(${path.basename(HOST_FILE)} is not on a share of it)`).and.not.include('/var/lib');
      expect(codeOf(await t.http.post(`/v3/os-checkpoints/${id}/action`).set(auth('alice')).send({ revert: {} }).expect(400))).to.equal('INVALID_STATE');
      await t.http.delete(`/v3/os-checkpoints/${id}`).set(auth('alice')).expect(202);
      await eventually(async () => ((await t.svc.deps.repos.checkpoints.get(id)) === null ? true : undefined), 30_000);
    });

    it('CLI: checkpoint create/list/show/revert/delete with --wait', async () => {
      const printed: string[] = [];
      const cli = async (...args: string[]) => { printed.push(...(await cliAt(t.svc.url, 'alice', '--json', ...args))); };
      const last = () => JSON.parse(printed[printed.length - 1] as string) as Record<string, Record<string, unknown>>;
      await cli('checkpoint', 'create', instance, '--name', 'from-cli', '--mode', 'consistent', '--wait');
      const made = last().checkpoint as Record<string, unknown>;
      expect(made).to.include({ status: 'available', name: 'from-cli', instance_uuid: instance });
      const id = String(made.id);
      await cli('checkpoint', 'list', '--instance', instance);
      expect((last().checkpoints as unknown as { id: string }[]).map((c) => c.id)).to.include(id);
      await cli('checkpoint', 'show', id);
      expect(last().checkpoint?.memory_size).to.equal(123456);
      await cli('checkpoint', 'revert', id, '--paused', '--wait');
      expect(last().checkpoint?.status).to.equal('available');
      await cli('checkpoint', 'delete', id, '--wait');
      expect(await t.svc.deps.repos.checkpoints.get(id)).to.equal(null);
      // A refusal surfaces with its stable code.
      const refused = await cli('checkpoint', 'create', randomUUID()).then(() => null, (err: { code?: string }) => err);
      expect(refused?.code).to.equal('CHECKPOINT_INSTANCE_UNKNOWN');
    });

    it('refuses deleting a member snapshot alone while its checkpoint exists (CHECKPOINT_MEMBER), then allows it', async () => {
      const v2 = await createVolume(t, 'alice');
      await waitVolume(t, v2, 'available');
      const checkpointId = randomUUID();
      await t.svc.deps.repos.checkpoints.insert({
        id: checkpointId, projectId: 'p-alice', instanceUuid: randomUUID(), hostName: 'ck1', name: 'm', description: null, mode: 'consistent',
        status: 'available', memorySize: 1, definitionSha256: null, volumes: [],
      });
      const s = (await t.http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: v2, name: 'member', metadata: { checkpoint_id: checkpointId } } }).expect(202)).body.snapshot.id as string;
      await waitSnapshot(t, s, 'available');
      const refused = await t.http.delete(`/v3/snapshots/${s}`).set(auth('alice'));
      expect(refused.status).to.equal(409);
      expect(codeOf(refused)).to.equal('CHECKPOINT_MEMBER');
      // Admin's force delete too: the checkpoint would point at a disk that is gone.
      expect(codeOf(await t.http.post(`/v3/snapshots/${s}/action`).set(auth('admin')).send({ 'os-force_delete': {} }).expect(409))).to.equal('CHECKPOINT_MEMBER');
      expect((await t.http.get(`/v3/snapshots/${s}`).set(auth('alice'))).body.snapshot.status).to.equal('available');
      await t.svc.deps.repos.checkpoints.remove(checkpointId);
      await t.http.delete(`/v3/snapshots/${s}`).set(auth('alice')).expect(202);
    });
  });
}
