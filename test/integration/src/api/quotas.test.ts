/**
 * Quotas and limits with the stock `cinder` CLI (noauth) on SQLite and MariaDB, with the real
 * RemoteFS driver on a local share: quota-show / quota-defaults / quota-update / quota-usage /
 * absolute-limits; a create or snapshot over quota answers 413 in Cinder's overLimit shape with
 * OVER_QUOTA and creates nothing (no row, no file); gigabytes count snapshots' sizes, hidden
 * snapshots included; members read their own project's quotas only and change none.
 */
import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../../../lib/core/process.js';
import { BACKENDS, eventually, remotefsServiceHooks, type RemotefsService } from '../../../fixtures/api/harness.js';

const PROJECT = 'p-quota';
const ADMIN = { 'X-Auth-Token': `u-quota:${PROJECT}` };
const MEMBER = { 'X-Auth-Token': `u-member:${PROJECT}`, 'X-Roles': 'member' };
const OTHER_MEMBER = { 'X-Auth-Token': 'u-other:p-other', 'X-Roles': 'member' };

for (const backend of BACKENDS) {
  describe(`api: quotas and limits with the cinder CLI (noauth, ${backend.name})`, function () {
    this.timeout(300_000);
    let s: RemotefsService;
    // Cinder's default quotas, configured (the service's own default is unlimited).
    remotefsServiceHooks(backend, 'qcs-quota-', (x) => { s = x; }, { auth: 'noauth', quotas: { volumes: 10, snapshots: 10, gigabytes: 1000 } });

    const cinder = async (...args: string[]) => (await run('cinder', ['--os-auth-type', 'noauth', '--os-user-id', 'u-quota', '--os-project-id', PROJECT,
      '--os-endpoint', `${s.svc.url}/v3`, ...args], { timeoutMs: 60_000 })).stdout;
    const field = (out: string, name: string) => new RegExp(`^\\|\\s*${name}\\s*\\|\\s*(\\S+)`, 'm').exec(out)?.[1];
    /** The In_use and Limit columns of a quota-usage row. */
    const usageRow = (out: string, name: string) => {
      const m = new RegExp(`^\\|\\s*${name}\\s*\\|\\s*(-?\\d+)\\s*\\|\\s*(-?\\d+)\\s*\\|\\s*(-?\\d+)\\s*\\|`, 'm').exec(out);
      return m ? { inUse: Number(m[1]), reserved: Number(m[2]), limit: Number(m[3]) } : undefined;
    };
    const settled = (kind: 'volumes' | 'snapshots', id: string) => eventually(async () => {
      const b = (await s.http.get(`/v3/${kind}/${id}`).set(ADMIN).expect(200)).body[kind === 'volumes' ? 'volume' : 'snapshot'] as { status: string };
      if (b.status === 'error') throw new Error(`${kind} ${id} went to error`);
      return b.status === 'available' ? true : undefined;
    }, 120_000);
    const volumeFiles = async () => (await readdir(path.join(s.dir, 'share'))).filter((f) => /^volume-[0-9a-f-]{36}$/.test(f)).sort();
    const rows = async () => (await s.http.get('/v3/volumes/detail').set(ADMIN).expect(200)).body.volumes as { id: string }[];

    it('shows defaults, takes an update, refuses creates and snapshots over quota with 413 and nothing made', async () => {
      const shown = await cinder('quota-show', PROJECT);
      expect([field(shown, 'volumes'), field(shown, 'snapshots'), field(shown, 'gigabytes')]).to.deep.equal(['10', '10', '1000']);
      const defaults = await cinder('quota-defaults', PROJECT);
      expect(field(defaults, 'gigabytes')).to.equal('1000');
      const updated = await cinder('quota-update', '--volumes', '2', '--snapshots', '1', '--gigabytes', '3', PROJECT);
      expect([field(updated, 'volumes'), field(updated, 'snapshots'), field(updated, 'gigabytes')]).to.deep.equal(['2', '1', '3']);

      const v1 = field(await cinder('create', '1'), 'id') as string;
      const v2 = field(await cinder('create', '1'), 'id') as string;
      await settled('volumes', v1);
      await settled('volumes', v2);
      const filesBefore = await volumeFiles();
      expect(filesBefore).to.have.length(2);

      // The third volume: 413, Cinder's overLimit fault, our stable code; the CLI exits non-zero.
      const over = await s.http.post('/v3/volumes').set(ADMIN).send({ volume: { size: 1 } });
      expect(over.status, over.text).to.equal(413);
      expect(over.body.overLimit).to.include({ code: 413, error_code: 'OVER_QUOTA', resource: 'volumes', limit: 2, in_use: 2, requested: 1 });
      expect(over.body.overLimit.message).to.match(/Maximum number of volumes allowed \(2\) exceeded/);
      let cliRefused = false;
      await cinder('create', '1').catch((err: { details?: { stderr?: string } }) => {
        cliRefused = true;
        expect(err.details?.stderr).to.match(/Maximum number of volumes/);
      });
      expect(cliRefused, 'cinder create over quota fails').to.equal(true);
      expect((await rows()).map((v) => v.id).sort()).to.deep.equal([v1, v2].sort());
      expect(await volumeFiles()).to.deep.equal(filesBefore);

      // Snapshots: the count first, then gigabytes (a snapshot counts its volume's size).
      const sn1 = (await s.http.post('/v3/snapshots').set(ADMIN).send({ snapshot: { volume_id: v1 } }).expect(202)).body.snapshot.id as string;
      await settled('snapshots', sn1);
      const overSnap = await s.http.post('/v3/snapshots').set(ADMIN).send({ snapshot: { volume_id: v1 } });
      expect([overSnap.status, overSnap.body.overLimit?.error_code, overSnap.body.overLimit?.resource]).to.deep.equal([413, 'OVER_QUOTA', 'snapshots']);
      await s.http.put(`/v3/os-quota-sets/${PROJECT}`).set(ADMIN).send({ quota_set: { snapshots: 5 } }).expect(200);
      const overGb = await s.http.post('/v3/snapshots').set(ADMIN).send({ snapshot: { volume_id: v2 } });
      expect([overGb.status, overGb.body.overLimit?.resource]).to.deep.equal([413, 'gigabytes']);
      expect(overGb.body.overLimit.message).to.match(/Requested 1G, quota is 3G and 3G has been consumed/);
      expect((await s.http.get('/v3/snapshots').set(ADMIN).expect(200)).body.snapshots.map((x: { id: string }) => x.id)).to.deep.equal([sn1]);

      const usage = await cinder('quota-usage', PROJECT);
      expect(usageRow(usage, 'volumes')).to.deep.equal({ inUse: 2, reserved: 0, limit: 2 });
      expect(usageRow(usage, 'snapshots')).to.deep.equal({ inUse: 1, reserved: 0, limit: 5 });
      expect(usageRow(usage, 'gigabytes')).to.deep.equal({ inUse: 3, reserved: 0, limit: 3 });
      const limits = await cinder('absolute-limits');
      const limit = (name: string) => new RegExp(`^\\|\\s*${name}\\s*\\|\\s*(\\S+)`, 'm').exec(limits)?.[1];
      expect([limit('maxTotalVolumes'), limit('totalVolumesUsed'), limit('maxTotalVolumeGigabytes'), limit('totalGigabytesUsed'), limit('totalSnapshotsUsed')])
        .to.deep.equal(['2', '2', '3', '3', '1']);

      // A hidden snapshot (deleted by its owner, kept as a backing file) still takes room: it
      // counts in gigabytes, no longer as a snapshot. The flag is set as the driver's delete sets it.
      await s.svc.deps.repos.snapshots.update(sn1, { hidden: true });
      const hidden = (await s.http.get(`/v3/os-quota-sets/${PROJECT}?usage=True`).set(ADMIN).expect(200)).body.quota_set;
      expect([hidden.snapshots.in_use, hidden.gigabytes.in_use]).to.deep.equal([0, 3]);

      // Back to the defaults: the create that was refused now succeeds.
      await cinder('quota-delete', PROJECT);
      expect(field(await cinder('quota-show', PROJECT), 'volumes')).to.equal('10');
      const v3 = (await s.http.post('/v3/volumes').set(ADMIN).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await settled('volumes', v3);
    });

    it('members read their own quotas and limits only, and change none; bad limits are refused', async () => {
      expect((await s.http.get(`/v3/os-quota-sets/${PROJECT}`).set(MEMBER).expect(200)).body.quota_set.id).to.equal(PROJECT);
      expect((await s.http.get('/v3/limits').set(MEMBER).expect(200)).body.limits.rate).to.deep.equal([]);
      const foreign = await s.http.get(`/v3/os-quota-sets/${PROJECT}`).set(OTHER_MEMBER);
      expect([foreign.status, foreign.body.forbidden?.error_code]).to.deep.equal([403, 'FORBIDDEN']);
      const update = await s.http.put(`/v3/os-quota-sets/${PROJECT}`).set(MEMBER).send({ quota_set: { volumes: 100 } });
      expect([update.status, update.body.forbidden?.error_code]).to.deep.equal([403, 'FORBIDDEN']);
      // skip_validation=false (the CLI's default): not below what the project uses (the volumes of the test above).
      const inUse = (await s.http.get(`/v3/os-quota-sets/${PROJECT}?usage=true`).set(ADMIN).expect(200)).body.quota_set.volumes.in_use as number;
      expect(inUse).to.be.greaterThan(0);
      const below = await s.http.put(`/v3/os-quota-sets/${PROJECT}?skip_validation=False`).set(ADMIN).send({ quota_set: { volumes: 0 } });
      expect([below.status, below.body.badRequest?.error_code, below.body.badRequest?.in_use]).to.deep.equal([400, 'INVALID_INPUT', inUse]);
      for (const body of [{ quota_set: { volumes: -2 } }, { quota_set: { backups: 5 } }, { quota_set: {} }, { quota_set: { tenant_id: 'p-else', volumes: 1 } }]) {
        const r = await s.http.put(`/v3/os-quota-sets/${PROJECT}`).set(ADMIN).send(body);
        expect([r.status, r.body.badRequest?.error_code], JSON.stringify(body)).to.deep.equal([400, 'INVALID_INPUT']);
      }
      expect((await s.http.get(`/v3/os-quota-sets/${PROJECT}`).set(ADMIN).expect(200)).body.quota_set).to.deep.equal({ id: PROJECT, volumes: 10, snapshots: 10, gigabytes: 1000 });
    });

    it('an extend counts its growth against gigabytes: beyond the quota it is refused and the volume keeps its size', async () => {
      const vid = (await s.http.post('/v3/volumes').set(ADMIN).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await settled('volumes', vid);
      const used = (await s.http.get(`/v3/os-quota-sets/${PROJECT}?usage=true`).set(ADMIN).expect(200)).body.quota_set.gigabytes.in_use as number;
      await s.http.put(`/v3/os-quota-sets/${PROJECT}`).set(ADMIN).send({ quota_set: { gigabytes: used + 1 } }).expect(200);
      const over = await s.http.post(`/v3/volumes/${vid}/action`).set(ADMIN).send({ 'os-extend': { new_size: 3 } });
      expect([over.status, over.body.overLimit?.error_code, over.body.overLimit?.requested]).to.deep.equal([413, 'OVER_QUOTA', 2]);
      expect((await s.http.get(`/v3/volumes/${vid}`).set(ADMIN).expect(200)).body.volume).to.include({ size: 1, status: 'available' });
      await s.http.post(`/v3/volumes/${vid}/action`).set(ADMIN).send({ 'os-extend': { new_size: 2 } }).expect(202);
      await eventually(async () => ((await s.http.get(`/v3/volumes/${vid}`).set(ADMIN)).body.volume.size === 2 ? true : undefined), 120_000);
      await cinder('quota-delete', PROJECT);
    });
  });
}
