/**
 * A checkpoint restored on another compute host, on the storage side, SQLite and MariaDB: the
 * old host is asked to release the instance before the target is asked; an old host that does
 * not answer refuses the revert (OLD_HOST_UNREACHABLE) and nothing changes, unless the admin
 * declares it fenced (recorded in the move); the move is recorded before the target is asked, and
 * the recovery pass converges a move a crash interrupted to the host that has the instance. The
 * coordinators are recording HTTP stand-ins answering as coordinator/checkpoint/routes.ts does;
 * the real ones with the booted guest on GlusterFS are driven by
 * test/integration/coordinator/checkpoint/checkpoint-other-host.test.ts.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cliAt } from '../../../fixtures/cli/in-process-cli.js';
import { settleStuckCheckpoints } from '../../../../src/api/usecases/checkpoints/settle.js';
import { instanceMoving } from '../../../../src/api/usecases/checkpoints/host-move.js';
import { BACKENDS, auth, eventually, testServiceHooks } from '../../../fixtures/api/harness.js';
import { createVolume, waitVolume } from '../../../fixtures/api/helpers.js';

interface Seen { host: string; method: string; url: string }

/** One compute host's coordinator: `down` drops every connection; `present` is whether it has the instance. */
interface StandIn {
  name: string;
  server: http.Server;
  down: boolean;
  present: boolean;
  /** The revert job it reports (null: none). */
  job: Record<string, unknown> | null;
  /** Its restore fails with a libvirt error (the job failed, the instance not there). */
  failRevert: boolean;
  url(): string;
}

const seen: Seen[] = [];
let members: string[] = [];
const CK = randomUUID();

function record(instanceUuid: string) {
  return {
    id: CK, instanceUuid, name: 'c1', description: '', created: new Date().toISOString(), mode: 'consistent', status: 'available',
    volumes: members.map((volumeId) => ({ volumeId, target: 'vdb', snapshotPoint: `/mnt/share/volume-${volumeId}.${CK}`, sizeBytes: 2 ** 30 })),
    excluded: [], memorySize: 123456, definitionSha256: 'a'.repeat(64),
  };
}

function standIn(name: string): StandIn {
  const s: StandIn = {
    name, down: false, present: false, job: null, failRevert: false, url: () => `http://127.0.0.1:${(s.server.address() as AddressInfo).port}/`,
    server: http.createServer((req, res) => {
      if (s.down) { req.socket.destroy(); return; }
      req.resume();
      req.on('end', () => {
        seen.push({ host: name, method: req.method ?? '', url: req.url ?? '' });
        const answer = (status: number, json: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(json)); };
        const presence = () => ({ present: s.present, active: s.present, disks: [] });
        const m = /^\/v1\/instances\/([0-9a-f-]{36})\/(presence|release|checkpoints)(?:\/([0-9a-f-]{36}))?(?:\/(revert|job))?$/.exec(req.url ?? '');
        if (!m) return answer(404, { error: { code: 'NOT_FOUND', message: 'no route' } });
        const [, instance, what, id, sub] = m;
        if (what === 'presence') return answer(200, { instance: presence() });
        if (what === 'release') { const was = presence(); s.present = false; return answer(200, { released: was }); }
        if (req.method === 'POST' && !id) { s.present = true; return answer(201, { checkpoint: record(instance as string) }); }
        if (req.method === 'POST' && sub === 'revert' && s.failRevert) {
          s.job = { op: 'revert', state: 'failed', progress: 0, error: 'internal error: qemu unexpectedly closed the monitor' };
          return answer(500, { error: { code: 'LIBVIRT_ERROR', message: 'internal error: qemu unexpectedly closed the monitor' } });
        }
        if (req.method === 'POST' && sub === 'revert') {
          s.present = true;
          s.job = { op: 'revert', state: 'succeeded', progress: 100 };
          return answer(200, { checkpoint: record(instance as string), detached_volumes: [] });
        }
        if (req.method === 'GET' && sub === 'job') return s.job ? answer(200, { job: s.job }) : answer(404, { error: { code: 'NOT_FOUND', message: 'no job' } });
        if (req.method === 'GET' && id) return answer(200, { checkpoint: record(instance as string) });
        return answer(405, { error: { code: 'INVALID_INPUT', message: 'not here' } });
      });
    }),
  };
  return s;
}

for (const backend of BACKENDS) {
  describe(`api os-checkpoints: restore on another compute host (${backend.name})`, function () {
    this.timeout(120_000);
    const t = testServiceHooks(backend);
    const a = standIn('mv-a');
    const b = standIn('mv-b');
    const instance = randomUUID();
    let vol = '';
    let id = '';
    const codeOf = (r: { body: Record<string, { error_code?: string }> }) => Object.values(r.body)[0]?.error_code;
    const hosts = async () => (await t.svc.deps.repos.attachments.activeOf(vol)).map((x) => x.host);
    const shown = async () => (await t.http.get(`/v3/os-checkpoints/${id}`).set(auth('admin')).expect(200)).body.checkpoint as Record<string, unknown>;
    const settled = () => eventually(async () => {
      const c = await t.svc.deps.repos.checkpoints.get(id);
      return c && !['creating', 'reverting'].includes(c.status) ? c : undefined;
    }, 30_000);
    const revert = (body: Record<string, unknown>, who: Parameters<typeof auth>[0] = 'admin') => t.http.post(`/v3/os-checkpoints/${id}/action`).set(auth(who)).send({ revert: body });

    before(async () => {
      for (const s of [a, b]) {
        await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
        await t.http.put(`/v3/os-compute-hosts/${s.name}`).set(auth('admin')).send({ compute_host: { coordinator_endpoint: s.url(), credential: `credential-${s.name}-${randomUUID()}` } }).expect(201);
      }
      vol = await createVolume(t, 'alice');
      await waitVolume(t, vol, 'available');
      members = [vol];
      await t.http.post(`/v3/volumes/${vol}/action`).set(auth('alice')).send({ 'os-attach': { instance_uuid: instance, mountpoint: '/dev/vdb', host_name: 'mv-a' } }).expect(202);
      await waitVolume(t, vol, 'in-use');
      id = (await t.http.post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name: 'c1' } }).expect(202)).body.checkpoint.id as string;
      expect((await settled()).status).to.equal('available');
    });
    after(async () => {
      for (const s of [a, b]) await new Promise((r) => s.server.close(r));
    });

    it('the old host does not answer: OLD_HOST_UNREACHABLE, nothing sent to the target, nothing changed', async () => {
      const before = await t.svc.deps.repos.checkpoints.get(id);
      a.down = true;
      const sent = seen.length;
      const r = await revert({ host: 'mv-b' });
      a.down = false;
      expect(r.status, r.text).to.equal(409);
      expect(codeOf(r)).to.equal('OLD_HOST_UNREACHABLE');
      expect(seen.slice(sent).filter((x) => x.host === 'mv-b'), 'the target was not asked').to.deep.equal([]);
      const after = await t.svc.deps.repos.checkpoints.get(id);
      expect([after?.status, after?.hostName, after?.hostMove]).to.deep.equal(['available', 'mv-a', null]);
      expect(after?.updatedAt.getTime()).to.be.at.least(before?.updatedAt.getTime() as number);
      expect(await hosts()).to.deep.equal(['mv-a']);
      // The fenced flag only goes with another host; naming another host is an admin's decision.
      expect(codeOf(await revert({ old_host_fenced: true }).expect(400))).to.equal('INVALID_INPUT');
      expect(codeOf(await revert({ host: 'mv-b', old_host_fenced: true }, 'alice').expect(403))).to.equal('FORBIDDEN');
      expect(codeOf(await revert({ host: 'mv-b', old_host_fenced: 'yes' }).expect(400))).to.equal('INVALID_INPUT');
      expect((await t.svc.deps.repos.checkpoints.get(id))?.status).to.equal('available');
      // The owner sees no host names; an admin sees the (absent) move.
      expect((await t.http.get(`/v3/os-checkpoints/${id}`).set(auth('alice')).expect(200)).body.checkpoint).to.not.have.property('host_move');
      expect((await shown()).host_move).to.equal(null);
    });

    it('the old host answers: released first, then restored on the target; attachments, checkpoints and the move name it', async () => {
      a.present = true;
      const sent = seen.length;
      await revert({ host: 'mv-b' }).expect(202);
      const c = await settled();
      expect(c.status, String(c.error)).to.equal('available');
      const calls = seen.slice(sent).map((x) => `${x.host} ${x.method} ${x.url.replace(instance, 'I').replace(id, 'ID')}`);
      expect(calls.indexOf('mv-a POST /v1/instances/I/release'), calls.join('; ')).to.equal(0);
      expect(calls.indexOf('mv-b POST /v1/instances/I/checkpoints/ID/revert')).to.be.greaterThan(0);
      expect(a.present, 'host a runs nothing').to.equal(false);
      expect(c.hostName).to.equal('mv-b');
      expect(await hosts()).to.deep.equal(['mv-b']);
      expect((await shown()).host_move).to.deep.include({ from: 'mv-a', to: 'mv-b', old_host: 'released', by: 'u-admin', state: 'done' });
    });

    it('the old host does not answer but is declared fenced: restored without its release, the choice recorded', async () => {
      b.down = true;
      // Through the CLI: --host with --old-host-fenced, waiting for the end.
      const printed = await cliAt(t.svc.url, 'admin', '--json', 'checkpoint', 'revert', id, '--host', 'mv-a', '--old-host-fenced', '--wait');
      expect((JSON.parse(printed[printed.length - 1] as string) as { checkpoint: { status: string } }).checkpoint.status).to.equal('available');
      const c = await settled();
      b.down = false;
      expect(c.status, String(c.error)).to.equal('available');
      expect(await hosts()).to.deep.equal(['mv-a']);
      expect(c.hostMove).to.deep.include({ from: 'mv-b', to: 'mv-a', oldHost: 'declared-down', state: 'done' });
    });

    it('an imported instance (its checkpoint on no host): a host must be named; restored there, no other host asked, its volume attached there', async () => {
      const imported = randomUUID();
      const cid = randomUUID();
      const v = await createVolume(t, 'alice');
      await waitVolume(t, v, 'available');
      const project = (await t.svc.deps.repos.volumes.get(v))?.projectId as string;
      // As an instance import writes it (instance-import.ts): available, on no host.
      await t.svc.deps.repos.checkpoints.insert({
        id: cid, coordinatorId: cid, projectId: project, instanceUuid: imported, hostName: '', name: 'c1', description: null, mode: 'consistent',
        status: 'available', memorySize: 123456, definitionSha256: 'a'.repeat(64), volumes: [{ volumeId: v, target: 'vdb', snapshotPoint: `volume-${v}`, snapshotId: null }],
      });
      const bare = await t.http.post(`/v3/os-checkpoints/${cid}/action`).set(auth('admin')).send({ revert: {} });
      expect(bare.status, bare.text).to.equal(400);
      expect(codeOf(bare)).to.equal('INVALID_INPUT');
      const sent = seen.length;
      await t.http.post(`/v3/os-checkpoints/${cid}/action`).set(auth('admin')).send({ revert: { host: 'mv-b' } }).expect(202);
      const c = await eventually(async () => {
        const x = await t.svc.deps.repos.checkpoints.get(cid);
        return x && x.status !== 'reverting' ? x : undefined;
      }, 30_000);
      expect(c.status, String(c.error)).to.equal('available');
      const calls = seen.slice(sent).map((x) => `${x.host} ${x.method} ${x.url.replace(imported, 'I').replace(cid, 'ID')}`);
      expect(calls, 'only the named host was asked').to.deep.equal(['mv-b POST /v1/instances/I/checkpoints/ID/revert']);
      expect([c.hostName, c.hostMove?.from, c.hostMove?.to, c.hostMove?.state]).to.deep.equal(['mv-b', '', 'mv-b', 'done']);
      const att = await t.svc.deps.repos.attachments.activeOf(v);
      expect(att.map((x) => [x.instanceUuid, x.host, x.mountpoint, x.status])).to.deep.equal([[imported, 'mv-b', '/dev/vdb', 'attached']]);
      await waitVolume(t, v, 'in-use');
    });

    it('an imported instance whose host fails the restore (not a refusal): the pass asks the host, releases the attachments, and it can be reverted again', async () => {
      const imported = randomUUID();
      const cid = randomUUID();
      const v = await createVolume(t, 'alice');
      await waitVolume(t, v, 'available');
      const repos = t.svc.deps.repos;
      await repos.checkpoints.insert({
        id: cid, coordinatorId: cid, projectId: (await repos.volumes.get(v))?.projectId as string, instanceUuid: imported, hostName: '', name: 'c1', description: null, mode: 'consistent',
        status: 'available', memorySize: 123456, definitionSha256: 'a'.repeat(64), volumes: [{ volumeId: v, target: 'vdb', snapshotPoint: `volume-${v}`, snapshotId: null }],
      });
      b.failRevert = true;
      b.present = false;
      await t.http.post(`/v3/os-checkpoints/${cid}/action`).set(auth('admin')).send({ revert: { host: 'mv-b' } }).expect(202);
      // Recorded before the host was asked, and not released on an error that is no refusal.
      expect((await repos.attachments.activeOf(v)).map((x) => [x.instanceUuid, x.host])).to.deep.equal([[imported, 'mv-b']]);
      // The row waits for the pass (its lease is the background's until it ends).
      const settled = await eventually(async () => {
        await settleStuckCheckpoints(t.svc.deps);
        const x = await repos.checkpoints.get(cid);
        return x && x.status !== 'reverting' ? x : undefined;
      }, 60_000);
      expect(settled.status).to.equal('error');
      expect(settled.error).to.match(/host mv-b does not have the instance: internal error: qemu unexpectedly closed the monitor/);
      expect(settled.hostMove).to.deep.include({ from: '', to: 'mv-b', state: 'abandoned' });
      expect(await repos.attachments.activeOf(v)).to.deep.equal([]);
      await waitVolume(t, v, 'available');
      b.failRevert = false;
      await t.http.post(`/v3/os-checkpoints/${cid}/action`).set(auth('admin')).send({ revert: { host: 'mv-b' } }).expect(202);
      const placed = await eventually(async () => {
        const x = await repos.checkpoints.get(cid);
        return x && x.status !== 'reverting' ? x : undefined;
      }, 30_000);
      expect([placed.status, placed.hostName, placed.hostMove?.state]).to.deep.equal(['available', 'mv-b', 'done']);
      expect((await repos.attachments.activeOf(v)).map((x) => [x.instanceUuid, x.host, x.status])).to.deep.equal([[imported, 'mv-b', 'attached']]);
    });

    it('a move a crash interrupted converges to the host that has the instance (recovery pass)', async () => {
      const repos = t.svc.deps.repos;
      const intended = (oldHost: 'released' | 'pending') => ({ from: 'mv-a', to: 'mv-b', oldHost, by: 'u-admin', at: new Date().toISOString(), state: 'intended' as const });
      // The target restored it and the service died before the metadata followed.
      b.present = true;
      a.present = false;
      b.job = { op: 'revert', state: 'succeeded', progress: 100 };
      await repos.checkpoints.update(id, { status: 'reverting', hostMove: intended('released') });
      // Meanwhile host a (it released the instance) would answer that the guest has no disk of
      // the volume: the attached-volume pass skips the instance while the move is open.
      expect(await instanceMoving(t.svc.deps, instance), 'a move is open').to.equal(true);
      const moved = await settleStuckCheckpoints(t.svc.deps);
      expect(moved.map((r) => [r.checkpointId, r.step])).to.deep.equal([[id, 'available']]);
      expect(await hosts()).to.deep.equal(['mv-b']);
      expect((await repos.checkpoints.get(id))?.hostMove).to.deep.include({ to: 'mv-b', state: 'done' });
      expect((await repos.checkpoints.list(null, instance)).map((x) => x.hostName)).to.deep.equal(['mv-b']);
      expect(await instanceMoving(t.svc.deps, instance), 'the move settled').to.equal(false);

      // Interrupted while the old host was asked to release it, and it still has it: nothing moved.
      await repos.checkpoints.update(id, { hostName: 'mv-a' });
      for (const x of await repos.attachments.activeOf(vol)) await repos.attachments.update(x.id, { host: 'mv-a' });
      a.present = true;
      b.present = false;
      await repos.checkpoints.update(id, { status: 'reverting', hostMove: intended('pending') });
      const stayed = await settleStuckCheckpoints(t.svc.deps);
      expect(stayed.map((r) => r.step)).to.deep.equal(['available']);
      expect(stayed[0]?.reason).to.match(/stays on host mv-a/);
      expect(await hosts()).to.deep.equal(['mv-a']);
      expect((await repos.checkpoints.get(id))?.hostMove?.state).to.equal('abandoned');

      // Released, but the target does not have it: error with the reason, the metadata unchanged.
      a.present = false;
      b.job = { op: 'revert', state: 'failed', progress: 0, error: 'restore refused by libvirt' };
      await repos.checkpoints.update(id, { status: 'reverting', hostMove: intended('released') });
      const lost = await settleStuckCheckpoints(t.svc.deps);
      expect(lost.map((r) => r.step)).to.deep.equal(['error']);
      const row = await repos.checkpoints.get(id);
      expect(row?.error).to.match(/host mv-b does not have the instance: restore refused by libvirt; host mv-a released it, so it runs on no host/);
      expect(await hosts()).to.deep.equal(['mv-a']);
      // Reverting again is how it runs anywhere: allowed from that error (and only from it).
      await revert({ host: 'mv-b' }).expect(202);
      const again = await settled();
      expect([again.status, again.hostName, again.hostMove?.state]).to.deep.equal(['available', 'mv-b', 'done']);
      expect(await hosts()).to.deep.equal(['mv-b']);
    });
  });
}
