/**
 * The attachments API driven by python-cinderclient's own Python API in the order Nova's
 * nova/volume/cinder.py calls it (attachment_create → attachment_update(connector) →
 * attachment_complete → attachment_delete), with the real RemoteFS driver on a local share, on
 * SQLite and MariaDB. Between the calls, the volume's status follows Cinder's (reserved,
 * attaching, in-use, available) and the connection info names the file on the share.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { run } from '../../../../lib/core/process.js';
import { BACKENDS, eventually, remotefsServiceHooks, type RemotefsService } from '../../../fixtures/api/harness.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures/nova-attachments.py');
const USER = 'nova-user';
const PROJECT = 'nova-project';
const HOST = 'compute-attach-1';
const NOAUTH = { 'X-Auth-Token': `${USER}:${PROJECT}` };

for (const backend of BACKENDS) {
  describe(`api: attachments in Nova's order with python-cinderclient (${backend.name}, real driver)`, function () {
    this.timeout(300_000);
    let s: RemotefsService;
    remotefsServiceHooks(backend, 'qcs-attach-nova-', (x) => { s = x; }, { auth: 'noauth' });

    /** One python-cinderclient call (a Python start per call: generous limit on a loaded machine). */
    async function nova(verb: string, ...args: string[]): Promise<Record<string, unknown> & { error?: { http: number; message: string } }> {
      const r = await run('/usr/bin/python3', [SCRIPT, `${s.svc.url}/v3`, USER, PROJECT, verb, ...args], { timeoutMs: 120_000 });
      return JSON.parse(r.stdout) as Record<string, unknown> & { error?: { http: number; message: string } };
    }
    const volume = async (id: string) => (await s.http.get(`/v3/volumes/${id}`).set(NOAUTH).expect(200)).body.volume;

    async function newVolume(): Promise<string> {
      const r = await s.http.post('/v3/volumes').set(NOAUTH).send({ volume: { size: 1, name: 'nova-attach' } }).expect(202);
      const id = r.body.volume.id as string;
      await eventually(async () => ((await volume(id)).status === 'available' ? true : undefined), 60_000);
      return id;
    }

    before(async () => {
      const r = await s.http.put(`/v3/os-compute-hosts/${HOST}`).set(NOAUTH)
        .send({ compute_host: { coordinator_endpoint: 'https://compute-attach-1.example:8780', credential: 'credential-of-compute-attach-1-0123456789' } });
      expect(r.status, r.text).to.be.oneOf([200, 201]);
    });

    it('create → update(connector) → complete → delete, with the volume in Cinder\'s statuses at each step', async () => {
      const vid = await newVolume();
      const instance = randomUUID();

      const created = await nova('create', vid, instance);
      expect(created.error, JSON.stringify(created)).to.equal(undefined);
      expect(created).to.include({ status: 'reserved', instance, volume_id: vid, attach_mode: 'rw', connection_info: null });
      const aid = created.id as string;
      expect((await volume(vid)).status).to.equal('reserved');

      const updated = await nova('update', aid, HOST, '/dev/vdb');
      expect(updated).to.include({ id: aid, status: 'attaching' });
      const info = updated.connection_info as { driver_volume_type: string; attachment_id: string; data: Record<string, unknown> };
      expect(info.driver_volume_type).to.equal('local');
      expect(info.attachment_id).to.equal(aid);
      expect(info.data).to.include({ export: path.join(s.dir, 'share'), name: `volume-${vid}`, format: 'qcow2', access_mode: 'rw' });
      expect((await volume(vid)).status).to.equal('attaching');

      expect(await nova('complete', aid)).to.deep.equal({ completed: aid });
      const attached = await volume(vid);
      expect(attached).to.include({ status: 'in-use', attach_status: 'attached' });
      expect(attached.attachments).to.have.length(1);
      expect(attached.attachments[0]).to.include({ id: vid, attachment_id: aid, server_id: instance, host_name: HOST, device: '/dev/vdb', volume_id: vid });
      expect(attached.attachments[0].attached_at).to.be.a('string');

      const shown = await nova('show', aid);
      expect(shown).to.include({ id: aid, status: 'attached', instance });
      expect((shown.connection_info as { data: { name: string } }).data.name).to.equal(`volume-${vid}`);

      // A second attachment (another instance, or the same one again) is refused: never multi-attach.
      const second = await nova('create', vid, randomUUID());
      expect(second.error?.http).to.equal(400);
      expect(second.error?.message).to.match(/multi-attach/);

      expect(await nova('delete', aid)).to.deep.equal({ deleted: aid });
      const detached = await volume(vid);
      expect(detached).to.include({ status: 'available', attach_status: 'detached' });
      expect(detached.attachments).to.deep.equal([]);
      expect((await nova('show', aid)).error?.http).to.equal(404);
    });

    it('lists the open attachments (detailed) and a deleted reservation frees the volume', async () => {
      const vid = await newVolume();
      const created = await nova('create', vid, randomUUID());
      const listed = await nova('list') as unknown as Record<string, unknown>[];
      expect(listed.map((a) => a.id)).to.include(created.id);
      expect(listed.find((a) => a.id === created.id)).to.include({ status: 'reserved', volume_id: vid });
      await nova('delete', created.id as string);
      expect((await volume(vid)).status).to.equal('available');
    });
  });
}
