/**
 * The recovery pass of attachments left `attaching` (src/api/usecases/attachments/settle-attaching.ts)
 * with the real RemoteFS driver on a local share, on SQLite and MariaDB; the compute host is a
 * scripted coordinator in this process answering GET /v1/instances/{uuid}/volumes/{vid} as
 * coordinator/attach/attach-state.ts does. Each attachment is made as the coordinator makes it
 * (attachment create with a connector naming the registered host), then the pass runs with a
 * grace of 0: an attach running on the host is waited for, a disk in the guest completes the
 * attachment, none releases it, and a host that does not answer leaves it attaching, then reported
 * ATTACH_UNSETTLED past the bound. The real coordinator killed mid-attach: test/e2e/attach-detach-crash.test.ts.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { AttachState } from '../../../../lib/protocol/attach-state.js';
import type { ServiceDeps } from '../../../../src/api/context.js';
import { settleAttaching } from '../../../../src/api/usecases/attachments/settle-attaching.js';
import { BACKENDS, eventually, registerHost, remotefsServiceHooks, type RemotefsService } from '../../../fixtures/api/harness.js';
import { StandInHost } from '../../../fixtures/api/stand-in-host.js';

/** What the scripted host answers per volume; absent: 404 (the route of an older coordinator). */
class ScriptedHost {
  readonly states = new Map<string, Omit<AttachState, 'instance_uuid' | 'volume_id'>>();
  readonly asked: string[] = [];
  readonly server = new StandInHost((req, res) => {
    const m = /^\/v1\/instances\/([^/]+)\/volumes\/([^/]+)$/.exec(req.url ?? '');
    const s = m ? this.states.get(m[2] as string) : undefined;
    if (m) this.asked.push(m[2] as string);
    res.writeHead(m && s ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(m && s ? { attach_state: { instance_uuid: m[1], volume_id: m[2], ...s } } : { error: { code: 'NOT_FOUND', message: 'no route' } }));
  });
}

const V344 = { 'OpenStack-API-Version': 'volume 3.44' };

for (const backend of BACKENDS) {
  describe(`api: attachments an interrupted attach left attaching, settled with their host (${backend.name}, real driver)`, function () {
    this.timeout(300_000);
    let s: RemotefsService;
    remotefsServiceHooks(backend, 'qcs-attaching-', (x) => { s = x; });
    const host = new ScriptedHost();
    const instance = randomUUID();
    const as = (who: string) => ({ 'X-Auth-Token': who, ...V344 });
    /** The pass with a grace of 0 (every attaching attachment is due) and the given bound. */
    const pass = (boundMs = 600_000) => {
      const d = s.svc.deps;
      return settleAttaching({ ...d, config: { ...d.config, storage: { ...d.config.storage, attachSettleGraceMs: 0, attachSettleBoundMs: boundMs } } } as ServiceDeps);
    };
    const volume = async (id: string) => (await s.http.get(`/v3/volumes/${id}`).set(as('admin')).expect(200)).body.volume as { status: string; attachments: unknown[] };

    before(async () => {
      await host.server.listen();
      await registerHost(s, 'c1', host.server.url);
    });
    after(() => host.server.close());

    /** An available volume, reserved and connected on host c1 as the coordinator does it: left `attaching`. */
    async function attaching(): Promise<{ vid: string; aid: string }> {
      const vid = (await s.http.post('/v3/volumes').set(as('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await eventually(async () => ((await volume(vid)).status === 'available' ? true : undefined), 60_000);
      const r = await s.http.post('/v3/attachments').set(as('admin'))
        .send({ attachment: { volume_uuid: vid, instance_uuid: instance, connector: { host: 'c1', mountpoint: '/dev/vdb' } } });
      expect(r.status, r.text).to.equal(200);
      expect((await volume(vid)).status).to.equal('attaching');
      return { vid, aid: r.body.attachment.id as string };
    }
    const reportOf = (reports: Awaited<ReturnType<typeof settleAttaching>>, aid: string) => reports.find((r) => r.attachmentId === aid);

    it('waits while the host runs an attach of the volume; completes once the guest has the disk', async () => {
      const { vid, aid } = await attaching();
      host.states.set(vid, { domain: true, active: true, in_progress: true, live: null, persistent: null });
      expect(reportOf(await pass(), aid)?.step).to.equal('wait');
      expect((await volume(vid)).status).to.equal('attaching');
      const disk = { target: 'vdb', file: `volume-${vid}` };
      host.states.set(vid, { domain: true, active: true, in_progress: false, live: disk, persistent: disk });
      expect(reportOf(await pass(), aid)?.step).to.equal('complete');
      const v = await volume(vid);
      expect(v.status).to.equal('in-use');
      const a = (await s.http.get(`/v3/attachments/${aid}`).set(as('admin')).expect(200)).body.attachment;
      expect(a).to.include({ status: 'attached', instance: instance });
      expect(a.attached_at).to.be.a('string');
      // Settled: the next pass has nothing left to ask about it.
      expect(reportOf(await pass(), aid)).to.equal(undefined);
    });

    it('releases when the guest has no disk of the volume (the reservation gone, the volume available)', async () => {
      const { vid, aid } = await attaching();
      host.states.set(vid, { domain: true, active: true, in_progress: false, live: null, persistent: null });
      expect(reportOf(await pass(), aid)?.step).to.equal('release');
      expect((await volume(vid)).status).to.equal('available');
      const open = (await s.http.get(`/v3/attachments?volume_id=${vid}&all_tenants=true`).set(as('admin')).expect(200)).body.attachments;
      expect(open).to.deep.equal([]);
    });

    it('a host that does not answer decides nothing; past the bound it is reported ATTACH_UNSETTLED with the admin action', async () => {
      const { vid, aid } = await attaching();
      // No state scripted for it: the host answers 404 (as an older coordinator would), which decides nothing.
      const first = reportOf(await pass(), aid);
      expect(first?.step).to.equal('wait');
      expect(host.asked).to.include(vid);
      expect((await volume(vid)).status).to.equal('attaching');
      // A 1 s bound: once the attachment is older than that, the pass says so (it stays attaching).
      const late = await eventually(async () => {
        const r = reportOf(await pass(1000), aid);
        return r?.step === 'unsettled' ? r : undefined;
      }, 60_000);
      expect(late.action).to.include(`DELETE /v3/attachments/${aid}`);
      expect((await volume(vid)).status).to.equal('attaching');
      // The admin action it names works: the attachment deleted, the volume available.
      await s.http.delete(`/v3/attachments/${aid}`).set(as('admin')).expect(200);
      expect((await volume(vid)).status).to.equal('available');
    });
  });
}
