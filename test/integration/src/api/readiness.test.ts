/**
 * Health that tells the truth, with the real RemoteFS driver on two local shares and the real
 * database (SQLite and MariaDB): /readyz lists the database and each share; a share whose
 * directory is removed makes it "degraded" (another share still takes volumes), both removed
 * make it "down" (503) and a create fails with SHARE_UNAVAILABLE naming the shares and the cause,
 * not NO_SHARE_SPACE. /metrics reports share capacity, operation durations by kind and outcome,
 * and bytes moved by merges and copies after real snapshot operations. The same on a real
 * GlusterFS share unmounted behind the service's back.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import type supertest from 'supertest';
import { writePattern } from '../../../../lib/qemu/qemu-io.js';
import { run } from '../../../../lib/core/process.js';
import { mountPointFor } from '../../../../lib/core/share-hash.js';
import type { GlusterVolume } from '../../../fixtures/gluster.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

interface Check { name: string; status: string; reason?: string; mounted?: boolean; writable?: boolean }
interface Report { status: string; reasons: string[]; checks: Check[] }

/** The value of one series in Prometheus text, 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

for (const backend of BACKENDS) {
  describe(`api: readiness, SHARE_UNAVAILABLE and metrics (real RemoteFS, two local shares, ${backend.name})`, function () {
    this.timeout(180_000);
    let http: ReturnType<typeof supertest>;
    let shareA: string;
    let shareB: string;
    let dir: string;
    remotefsServiceHooks(backend, 'qcs-ready-', (s) => {
      http = s.http;
      dir = s.dir;
      shareA = path.join(s.dir, 'share-a');
      shareB = path.join(s.dir, 'share-b');
    }, { shares: ['share-a', 'share-b'] });
    const waits = apiWaits(() => http);
    const ready = async (status: number) => (await http.get('/readyz').expect(status)).body as Report;
    const check = (r: Report, name: string) => r.checks.find((c) => c.name === name);

    it('ready: the database and both shares ok (mounted, writable)', async () => {
      const r = await ready(200);
      expect(r.status, JSON.stringify(r)).to.equal('ready');
      expect(check(r, 'database')?.status).to.equal('ok');
      for (const s of [shareA, shareB]) expect(check(r, `share:${s}`)).to.include({ status: 'ok', mounted: true, writable: true });
      expect((await http.get('/healthz').expect(200)).body.status).to.equal('ok');
    });

    it('metrics after a snapshot, a clone and a snapshot delete: capacity, operation durations, bytes moved', async () => {
      const before = (await http.get('/metrics').expect(200)).text;
      const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await waits.settled('volumes', vid, 'available');
      const infoOf = async () => JSON.parse(await readFile(path.join(shareA, `volume-${vid}.info`), 'utf8')).qcowshare as { active: string };
      await writePattern(path.join(shareA, `volume-${vid}`), 'qcow2', 0x11, 0, 1024 * 1024);
      const sid = await waits.snapshot(vid);
      await writePattern(path.join(shareA, (await infoOf()).active), 'qcow2', 0x22, 0, 1024 * 1024);
      const clone = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, source_volid: vid } }).expect(202)).body.volume.id as string;
      await waits.settled('volumes', clone, 'available');
      const del = await http.delete(`/v3/snapshots/${sid}`).set(auth('alice')).expect(202);
      expect((await waits.operation(del.headers['x-operation-id'] as string)).state).to.equal('succeeded');
      const text = (await http.get('/metrics').expect(200)).text;
      expect(sample(text, `qcowshare_share_total_bytes{share="${shareA}"}`)).to.be.greaterThan(0);
      expect(sample(text, `qcowshare_share_free_bytes{share="${shareA}"}`)).to.be.greaterThan(0);
      // The volume and its clone (placed on either share), 1 GiB each.
      const provisioned = sample(text, `qcowshare_share_provisioned_bytes{share="${shareA}"}`) + sample(text, `qcowshare_share_provisioned_bytes{share="${shareB}"}`);
      expect(provisioned).to.be.at.least(2 * 1024 ** 3);
      expect(sample(text, `qcowshare_share_oversubscription_ratio{share="${shareA}"}`)).to.be.greaterThan(0);
      expect(sample(text, `qcowshare_share_mounted{share="${shareB}"}`)).to.equal(1);
      for (const kind of ['create_volume', 'create_snapshot', 'delete_snapshot']) {
        const series = `qcowshare_operation_duration_seconds_count{kind="${kind}",outcome="succeeded"}`;
        expect(sample(text, series) - sample(before, series), series).to.be.at.least(1);
      }
      for (const kind of ['merge', 'copy']) {
        const series = `qcowshare_bytes_moved_total{kind="${kind}"}`;
        expect(sample(text, series) - sample(before, series), series).to.be.at.least(1024 * 1024);
      }
      expect(text).to.match(/qcowshare_http_requests_total\{method="POST",route="\/v3\/volumes",status="202"\} \d+/);
    });

    it('a share whose directory is gone: degraded with the reason; creates still go to the other share', async () => {
      await rm(shareB, { recursive: true, force: true });
      const r = await ready(200);
      expect(r.status).to.equal('degraded');
      expect(check(r, `share:${shareB}`)).to.include({ status: 'down', mounted: false });
      expect(check(r, `share:${shareB}`)?.reason).to.contain('is missing');
      expect(r.reasons.join('\n')).to.contain(shareB);
      const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await waits.settled('volumes', vid, 'available');
      const metrics = (await http.get('/metrics').expect(200)).text;
      expect(sample(metrics, `qcowshare_share_mounted{share="${shareB}"}`)).to.equal(0);
    });

    it('no share left: down (503), and a create fails with SHARE_UNAVAILABLE naming the shares, not NO_SHARE_SPACE', async () => {
      await rm(shareA, { recursive: true, force: true });
      const r = await ready(503);
      expect(r.status).to.equal('down');
      expect(check(r, 'database')?.status).to.equal('ok');
      const res = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202);
      const op = await waits.operation(res.headers['x-operation-id'] as string);
      expect(op.state).to.equal('failed');
      // Each share named (as its owner may see it: by its name, not by this host's path) with why.
      expect(op.error).to.match(/^SHARE_UNAVAILABLE: /).and.contain('share share-a (its directory is missing)').and.contain('share share-b (its directory is missing)');
      expect(op.error).not.to.contain(dir);
      await waits.settled('volumes', res.body.volume.id as string, 'error');
    });
  });
}

describe('api: readiness and SHARE_UNAVAILABLE on a real GlusterFS share that gets unmounted (sqlite)', function () {
  this.timeout(300_000);
  let dir: string;
  let vol: GlusterVolume;
  let http: ReturnType<typeof supertest>;
  remotefsServiceHooks(BACKENDS[0] as (typeof BACKENDS)[number], 'qcs-ready-gl-', (s) => {
    ({ dir, http } = s);
    vol = s.gluster as GlusterVolume;
  }, { shares: [], glusterfs: true });

  it('mounted: ready; unmounted behind its back: down (503) "not mounted", and a create fails SHARE_UNAVAILABLE', async () => {
    const name = `share:${vol.address}`;
    const ready = (await http.get('/readyz').expect(200)).body as Report;
    expect(ready.status, JSON.stringify(ready)).to.equal('ready');
    expect(ready.checks.find((c) => c.name === name)).to.include({ status: 'ok', mounted: true, writable: true });
    const mountPoint = mountPointFor(path.join(dir, 'mnt'), vol.address);
    await run('umount', [mountPoint], { timeoutMs: 60_000 });
    const down = (await http.get('/readyz').expect(503)).body as Report;
    expect(down.status).to.equal('down');
    expect(down.checks.find((c) => c.name === name)?.reason).to.equal(`not mounted at ${mountPoint}`);
    const res = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202);
    const op = await apiWaits(() => http).operation(res.headers['x-operation-id'] as string);
    // The operation's error is its owner's to read: the mount point named by the share's address, not by this host's path.
    expect(op.error).to.match(/^SHARE_UNAVAILABLE: /).and.contain(`${vol.address} (not mounted at the mount point of ${vol.address})`).and.not.contain(mountPoint);
  });
});
