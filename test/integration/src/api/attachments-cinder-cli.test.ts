/**
 * The stock `cinder` CLI (python3-cinderclient, noauth) on the attachments API, real RemoteFS
 * driver: attachment-create (with --connect on a registered host), attachment-list,
 * attachment-show, attachment-complete, attachment-delete; and a second attachment-create refused.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { run } from '../../../../lib/core/process.js';
import { BACKENDS, eventually, remotefsServiceHooks, type RemotefsService } from '../../../fixtures/api/harness.js';

const NOAUTH = { 'X-Auth-Token': 'cli-user:cli-project' };

for (const backend of BACKENDS) {
  describe(`api: attachments with the real cinder CLI (${backend.name}, real driver)`, function () {
    this.timeout(300_000);
    let s: RemotefsService;
    remotefsServiceHooks(backend, 'qcs-attach-cli-', (x) => { s = x; }, { auth: 'noauth' });

    const cinder = async (...args: string[]) => run('cinder', [
      '--os-auth-type', 'noauth', '--os-user-id', 'cli-user', '--os-project-id', 'cli-project', '--os-endpoint', `${s.svc.url}/v3`,
      '--os-volume-api-version', '3.54', ...args,
    ], { timeoutMs: 120_000, allowFailure: true });
    /** The value column of a `cinder show`-style table row. */
    const field = (out: string, name: string) => new RegExp(`^\\|\\s*${name}\\s*\\|\\s*(\\S+)`, 'm').exec(out)?.[1];
    const volume = async (id: string) => (await s.http.get(`/v3/volumes/${id}`).set(NOAUTH).expect(200)).body.volume;

    it('creates (and connects), lists, shows, completes and deletes an attachment', async () => {
      await s.http.put('/v3/os-compute-hosts/cli-compute').set(NOAUTH)
        .send({ compute_host: { coordinator_endpoint: 'https://cli-compute.example:8780', credential: 'credential-of-cli-compute-0123456789' } })
        .expect((r) => { if (r.status !== 200 && r.status !== 201) throw new Error(r.text); });
      const created = await s.http.post('/v3/volumes').set(NOAUTH).send({ volume: { size: 1 } }).expect(202);
      const vid = created.body.volume.id as string;
      await eventually(async () => ((await volume(vid)).status === 'available' ? true : undefined), 60_000);
      const server = randomUUID();

      const made = await cinder('attachment-create', '--connect', 'True', '--host', 'cli-compute', '--mountpoint', '/dev/vdb', vid, server);
      expect(made.exitCode, made.stderr).to.equal(0);
      const aid = field(made.stdout, 'id') as string;
      expect(aid).to.match(/^[0-9a-f-]{36}$/);
      expect(field(made.stdout, 'status')).to.equal('attaching');
      expect(made.stdout).to.include(`volume-${vid}`);
      expect((await volume(vid)).status).to.equal('attaching');

      const listed = await cinder('attachment-list');
      expect(listed.exitCode, listed.stderr).to.equal(0);
      expect(listed.stdout.split('\n').some((l) => l.includes(aid) && l.includes(vid) && l.includes('attaching') && l.includes(server))).to.equal(true);

      expect((await cinder('attachment-complete', aid)).exitCode).to.equal(0);
      const shown = await cinder('attachment-show', aid);
      expect(shown.exitCode, shown.stderr).to.equal(0);
      expect([field(shown.stdout, 'status'), field(shown.stdout, 'instance'), field(shown.stdout, 'attach_mode')]).to.deep.equal(['attached', server, 'rw']);
      expect((await volume(vid)).status).to.equal('in-use');

      const second = await cinder('attachment-create', vid, randomUUID());
      expect(second.exitCode).to.not.equal(0);
      expect(second.stderr).to.match(/multi-attach/);

      const deleted = await cinder('attachment-delete', aid);
      expect(deleted.exitCode, deleted.stderr).to.equal(0);
      expect((await volume(vid)).status).to.equal('available');
      expect((await cinder('attachment-list')).stdout).to.not.include(aid);
    });
  });
}
