/**
 * The attachments API and the legacy attach actions against hostile and wrong input, with the
 * real RemoteFS driver, on SQLite and MariaDB: another project's volume or attachment, a bad or
 * unregistered connector, a foreign host's service token, double attach (also two creates at
 * once), wrong microversions and steps out of order. Each refusal has its stable code and leaves
 * the volume and its attachments as they were.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { auth, BACKENDS, eventually, registerHost, remotefsServiceHooks, type RemotefsService } from '../../../fixtures/api/harness.js';

const V = { 'OpenStack-API-Version': 'volume 3.44' };
const V54 = { 'OpenStack-API-Version': 'volume 3.54' };
const code = (body: Record<string, { error_code?: string }>) => Object.values(body)[0]?.error_code;

for (const backend of BACKENDS) {
  describe(`api: attachments refuse hostile input (${backend.name}, real driver)`, function () {
    this.timeout(300_000);
    let s: RemotefsService;
    remotefsServiceHooks(backend, 'qcs-attach-hostile-', (x) => { s = x; });

    const volume = async (id: string) => (await s.http.get(`/v3/volumes/${id}`).set(auth('alice')).expect(200)).body.volume;
    const attachments = async (vid: string) => (await s.http.get('/v3/attachments').query({ volume_id: vid }).set(auth('alice')).set(V).expect(200)).body.attachments as { id: string; status: string }[];
    async function newVolume(): Promise<string> {
      const r = await s.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202);
      await eventually(async () => ((await volume(r.body.volume.id)).status === 'available' ? true : undefined), 60_000);
      return r.body.volume.id as string;
    }
    const create = (who: Parameters<typeof auth>[0], body: Record<string, unknown>, version = V) =>
      s.http.post('/v3/attachments').set(auth(who)).set(version).send({ attachment: body });
    /** The volume's status and open attachments: what a refusal must leave alone. */
    const stateOf = async (vid: string) => ({ status: (await volume(vid)).status, attachments: await attachments(vid) });

    before(async () => {
      await registerHost(s, 'c1', 'https://c1.example:8780');
      await registerHost(s, 'c2', 'https://c2.example:8780');
    });

    it('answers 404 below microversion 3.27, as Cinder does (without a header the service serves its maximum: the README says why)', async () => {
      const vid = await newVolume();
      for (const headers of [{ 'OpenStack-API-Version': 'volume 3.26' }, { 'OpenStack-API-Version': 'volume 3.0' }]) {
        const r = await s.http.post('/v3/attachments').set(auth('alice')).set(headers).send({ attachment: { volume_uuid: vid, instance_uuid: randomUUID() } });
        expect(r.status, r.text).to.equal(404);
        expect(r.body.itemNotFound.message).to.match(/3\.27/);
      }
      expect((await s.http.get('/v3/attachments').set(auth('alice')).set({ 'OpenStack-API-Version': 'volume 3.0' })).status).to.equal(404);
      expect(await stateOf(vid)).to.deep.equal({ status: 'available', attachments: [] });
    });

    it("refuses another project's volume and attachment as not found", async () => {
      const vid = await newVolume();
      expect(code((await create('bob', { volume_uuid: vid, instance_uuid: randomUUID() })).body)).to.equal('VOLUME_NOT_FOUND');
      const mine = await create('alice', { volume_uuid: vid, instance_uuid: randomUUID() }).expect(200);
      const aid = mine.body.attachment.id as string;
      for (const r of [
        await s.http.get(`/v3/attachments/${aid}`).set(auth('bob')).set(V),
        await s.http.put(`/v3/attachments/${aid}`).set(auth('bob')).set(V).send({ attachment: { connector: { host: 'c1' } } }),
        await s.http.post(`/v3/attachments/${aid}/action`).set(auth('bob')).set(V).send({ 'os-complete': null }),
        await s.http.delete(`/v3/attachments/${aid}`).set(auth('bob')).set(V),
      ]) {
        expect(r.status, r.text).to.equal(404);
        expect(code(r.body)).to.equal('ATTACHMENT_NOT_FOUND');
      }
      expect((await s.http.get('/v3/attachments').set(auth('bob')).set(V).expect(200)).body.attachments.map((a: { id: string }) => a.id)).to.not.include(aid);
      expect(await stateOf(vid)).to.deep.equal({ status: 'reserved', attachments: [{ id: aid, status: 'reserved', instance: mine.body.attachment.instance, volume_id: vid }] });
      await s.http.delete(`/v3/attachments/${aid}`).set(auth('alice')).set(V).expect(200);
    });

    it('refuses a bad, unregistered or foreign connector and changes nothing', async () => {
      const vid = await newVolume();
      const bad = await create('alice', { volume_uuid: vid, instance_uuid: randomUUID(), connector: { ip: '192.0.2.1' } });
      expect([bad.status, code(bad.body)]).to.deep.equal([400, 'INVALID_INPUT']);
      const unknown = await create('alice', { volume_uuid: vid, instance_uuid: randomUUID(), connector: { host: 'not-registered' } });
      expect([unknown.status, code(unknown.body)]).to.deep.equal([400, 'COMPUTE_HOST_UNKNOWN']);
      const huge = await create('alice', { volume_uuid: vid, instance_uuid: randomUUID(), connector: { host: 'c1', junk: 'x'.repeat(5000) } });
      expect([huge.status, code(huge.body)]).to.deep.equal([400, 'INVALID_INPUT']);
      expect(await stateOf(vid)).to.deep.equal({ status: 'available', attachments: [] });

      const aid = (await create('alice', { volume_uuid: vid, instance_uuid: randomUUID() }).expect(200)).body.attachment.id as string;
      const before = await stateOf(vid);
      // The coordinator of c1 may not record an attachment on c2.
      const foreign = await s.http.put(`/v3/attachments/${aid}`).set(auth('service-c1')).set(V).send({ attachment: { connector: { host: 'c2' } } });
      expect([foreign.status, code(foreign.body)]).to.deep.equal([403, 'FORBIDDEN']);
      const unregistered = await s.http.put(`/v3/attachments/${aid}`).set(auth('alice')).set(V).send({ attachment: { connector: { host: 'nowhere' } } });
      expect([unregistered.status, code(unregistered.body)]).to.deep.equal([400, 'COMPUTE_HOST_UNKNOWN']);
      const url = await s.http.put(`/v3/attachments/${aid}`).set(auth('alice')).set(V).send({ attachment: { connector: { host: 'c1' }, coordinator_endpoint: 'https://evil.example' } });
      expect([url.status, code(url.body)]).to.deep.equal([400, 'INVALID_INPUT']);
      expect(await stateOf(vid)).to.deep.equal(before);
      // os-complete before the connector: out of order.
      const early = await s.http.post(`/v3/attachments/${aid}/action`).set(auth('alice')).set(V).send({ 'os-complete': null });
      expect([early.status, code(early.body)]).to.deep.equal([400, 'INVALID_STATE']);
      expect(await stateOf(vid)).to.deep.equal(before);
      await s.http.delete(`/v3/attachments/${aid}`).set(auth('alice')).set(V).expect(200);
    });

    it('refuses a second attachment (multi-attach), also when two creates race, and through os-attach', async () => {
      const vid = await newVolume();
      const both = await Promise.all([0, 1].map(() => create('alice', { volume_uuid: vid, instance_uuid: randomUUID() })));
      // Whichever wins: exactly one reservation, the other refused with its own code.
      expect(both.map((r) => r.status).sort()).to.deep.equal([200, 400]);
      const loser = both.find((r) => r.status === 400);
      expect(code(loser?.body)).to.equal('MULTIATTACH_NOT_SUPPORTED');
      const winner = both.find((r) => r.status === 200)?.body.attachment.id as string;
      expect((await stateOf(vid)).attachments.map((a) => a.id)).to.deep.equal([winner]);

      await s.http.put(`/v3/attachments/${winner}`).set(auth('alice')).set(V).send({ attachment: { connector: { host: 'c1', mountpoint: '/dev/vdc' } } }).expect(200);
      await s.http.post(`/v3/attachments/${winner}/action`).set(auth('alice')).set(V).send({ 'os-complete': null }).expect(204);
      const again = await create('alice', { volume_uuid: vid, instance_uuid: randomUUID() });
      expect([again.status, code(again.body)]).to.deep.equal([400, 'MULTIATTACH_NOT_SUPPORTED']);
      const legacy = await s.http.post(`/v3/volumes/${vid}/action`).set(auth('admin')).send({ 'os-attach': { mountpoint: '/dev/vdd', host_name: 'c2' } });
      expect([legacy.status, code(legacy.body)]).to.deep.equal([400, 'MULTIATTACH_NOT_SUPPORTED']);
      expect(await stateOf(vid)).to.deep.equal({ status: 'in-use', attachments: [{ id: winner, status: 'attached', instance: both.find((r) => r.status === 200)?.body.attachment.instance, volume_id: vid }] });
      await s.http.delete(`/v3/attachments/${winner}`).set(auth('alice')).set(V).expect(200);
      expect(await stateOf(vid)).to.deep.equal({ status: 'available', attachments: [] });
    });

    it('takes mode from 3.54 on (read-only connection info) and refuses it below', async () => {
      const vid = await newVolume();
      const early = await create('alice', { volume_uuid: vid, instance_uuid: randomUUID(), mode: 'ro' });
      expect([early.status, code(early.body)]).to.deep.equal([400, 'INVALID_INPUT']);
      const ro = await create('alice', { volume_uuid: vid, instance_uuid: randomUUID(), mode: 'ro', connector: { host: 'c1' } }, V54).expect(200);
      expect(ro.body.attachment).to.include({ status: 'attaching', attach_mode: 'ro' });
      expect(ro.body.attachment.connection_info.data).to.include({ access_mode: 'ro', name: `volume-${vid}` });
      await s.http.delete(`/v3/attachments/${ro.body.attachment.id}`).set(auth('alice')).set(V).expect(200);
    });

    it('maps the legacy actions onto the same records: reserve, initialize, attach, begin/roll detaching, detach, unreserve', async () => {
      const vid = await newVolume();
      const act = (body: Record<string, unknown>, who: Parameters<typeof auth>[0] = 'alice') => s.http.post(`/v3/volumes/${vid}/action`).set(auth(who)).send(body);
      await act({ 'os-reserve': null }).expect(202);
      const [reserved] = (await stateOf(vid)).attachments;
      expect([(await volume(vid)).status, reserved?.status]).to.deep.equal(['reserved', 'reserved']);
      expect(code((await act({ 'os-reserve': null })).body)).to.equal('MULTIATTACH_NOT_SUPPORTED');
      await act({ 'os-unreserve': null }).expect(202);
      expect(await stateOf(vid)).to.deep.equal({ status: 'available', attachments: [] });

      await act({ 'os-reserve': {} }).expect(202);
      const [again] = (await stateOf(vid)).attachments;
      const init = await act({ 'os-initialize_connection': { connector: { host: 'c1' } } }).expect(200);
      expect(init.body.connection_info.data.name).to.equal(`volume-${vid}`);
      expect((await stateOf(vid)).attachments.map((a) => a.status)).to.deep.equal(['attaching']);
      await act({ 'os-attach': { mountpoint: '/dev/vdb', host_name: 'c1', instance_uuid: randomUUID() } }, 'service-c1').expect(202);
      const [attached] = (await stateOf(vid)).attachments;
      // os-attach completed the reservation: the same record, not a second one.
      expect([(await volume(vid)).status, attached?.status, attached?.id]).to.deep.equal(['in-use', 'attached', again?.id]);
      await act({ 'os-begin_detaching': null }).expect(202);
      expect((await volume(vid)).status).to.equal('detaching');
      await act({ 'os-roll_detaching': null }).expect(202);
      expect((await volume(vid)).status).to.equal('in-use');
      const wrong = await act({ 'os-roll_detaching': null });
      expect([wrong.status, code(wrong.body)]).to.deep.equal([400, 'INVALID_STATE']);
      await act({ 'os-begin_detaching': null }).expect(202);
      await act({ 'os-detach': { attachment_id: attached?.id } }).expect(202);
      expect(await stateOf(vid)).to.deep.equal({ status: 'available', attachments: [] });
      expect((await s.http.get(`/v3/attachments/${attached?.id}`).set(auth('alice')).set(V)).status).to.equal(404);
    });
  });
}
