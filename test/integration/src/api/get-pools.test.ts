/**
 * scheduler-stats/get_pools with the real RemoteFS driver on a local share, both databases: one
 * pool per share, its capacity as the share's statfs and the provisioned sizes say; admin only;
 * `cinder get-pools` (noauth is admin) shows the same pool.
 */
import { statfs } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { run } from '../../../../lib/core/process.js';
import { BACKENDS, auth, eventually, remotefsServiceHooks, type RemotefsService } from '../../../fixtures/api/harness.js';

const GiB = 2 ** 30;
const gib = (bytes: number) => Math.round((bytes / GiB) * 100) / 100;

for (const backend of BACKENDS) {
  describe(`api: get_pools from the driver's stats (${backend.name})`, function () {
    this.timeout(120_000);
    let s: RemotefsService;
    remotefsServiceHooks(backend, 'qcs-pools-', (x) => { s = x; });

    it('lists the share as a pool with its capacity; provisioned grows with a volume; members are refused', async () => {
      const share = path.join(s.dir, 'share');
      const pools = async () => {
        const r = await s.http.get('/v3/scheduler-stats/get_pools?detail=true').set(auth('admin'));
        expect(r.status, r.text).to.equal(200);
        return r.body.pools as { name: string; capabilities: Record<string, unknown> }[];
      };
      const before = await pools();
      expect(before.map((p) => p.name)).to.deep.equal([`${hostname()}@remotefs#${share}`]);
      const fs = await statfs(share);
      expect(before[0]?.capabilities).to.include({ pool_name: share, total_capacity_gb: gib(fs.blocks * fs.bsize), provisioned_capacity_gb: 0, mounted: true });

      const created = await s.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 2 } });
      expect(created.status, created.text).to.equal(202);
      const id = created.body.volume.id as string;
      await eventually(async () => ((await s.http.get(`/v3/volumes/${id}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined), 60_000);
      expect((await pools())[0]?.capabilities.provisioned_capacity_gb).to.equal(2);

      const summary = await s.http.get('/v3/scheduler-stats/get_pools').set(auth('admin'));
      expect(summary.body).to.deep.equal({ pools: [{ name: `${hostname()}@remotefs#${share}` }] });
      const member = await s.http.get('/v3/scheduler-stats/get_pools').set(auth('alice'));
      expect([member.status, member.body.forbidden?.error_code]).to.deep.equal([403, 'FORBIDDEN']);
      const bad = await s.http.get('/v3/scheduler-stats/get_pools?detail=maybe').set(auth('admin'));
      expect([bad.status, bad.body.badRequest?.error_code]).to.deep.equal([400, 'INVALID_INPUT']);
    });
  });

  describe(`api: cinder get-pools (noauth, ${backend.name})`, function () {
    this.timeout(120_000);
    let s: RemotefsService;
    remotefsServiceHooks(backend, 'qcs-pools-cli-', (x) => { s = x; }, { auth: 'noauth' });

    it('shows the share as a pool, with its capacity in --detail', async () => {
      const cinder = async (...args: string[]) =>
        (await run('cinder', ['--os-auth-type', 'noauth', '--os-user-id', 'u-pools', '--os-project-id', 'p-pools', '--os-endpoint', `${s.svc.url}/v3`, ...args], { timeoutMs: 60_000 })).stdout;
      const share = path.join(s.dir, 'share');
      expect(await cinder('get-pools')).to.include(`${hostname()}@remotefs#${share}`);
      const detail = await cinder('get-pools', '--detail');
      const fs = await statfs(share);
      expect(detail).to.match(new RegExp(`\\|\\s*total_capacity_gb\\s*\\|\\s*${String(gib(fs.blocks * fs.bsize)).replace('.', '\\.')}\\s*\\|`));
    });
  });
}
