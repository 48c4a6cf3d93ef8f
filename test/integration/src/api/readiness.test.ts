/**
 * Health that tells the truth, with the real RemoteFS driver on two local shares and the real
 * database (SQLite and MariaDB): /readyz lists the database and each share; a share whose
 * directory is removed makes it "degraded" (another share still takes volumes), both removed
 * make it "down" (503) and a create fails with SHARE_UNAVAILABLE naming the shares and the cause,
 * not NO_SHARE_SPACE. /metrics reports share capacity, operation durations by kind and outcome,
 * and bytes moved by merges and copies after real snapshot operations. The same on a real
 * GlusterFS share unmounted behind the service's back. The host's paths are an admin's:
 * anonymous and non-admin callers get every check of /readyz with its state and reason, a local
 * share named by its directory's last part and no mount point (the API's redaction rule), checked
 * against the directories actually configured. /metrics, with a scrape credential configured
 * (api.metricsTokenFile), answers only it or an admin token; without one it is open.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import type supertest from 'supertest';
import { writePattern } from '../../../../lib/qemu/qemu-io.js';
import { scrapeCredentialHooks } from '../../../fixtures/api/scrape-credential.js';
import { run } from '../../../../lib/core/process.js';
import { mountPointFor } from '../../../../lib/core/share-hash.js';
import type { GlusterVolume } from '../../../fixtures/gluster.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

interface Check { name: string; status: string; reason?: string; mounted?: boolean; writable?: boolean }
interface Report { status: string; reasons: string[]; checks: Check[] }

/** The host-layout strings of `values` that occur in `text` (none may, for a caller who is not an admin). */
function leaked(text: string, values: string[]): string[] {
  return values.filter((v) => text.includes(v));
}


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
    const scrape = scrapeCredentialHooks();
    remotefsServiceHooks(backend, 'qcs-ready-', (s) => {
      http = s.http;
      dir = s.dir;
      shareA = path.join(s.dir, 'share-a');
      shareB = path.join(s.dir, 'share-b');
    }, { shares: ['share-a', 'share-b'], api: { metricsTokenFile: scrape.file } });
    const waits = apiWaits(() => http);
    const ready = async (status: number) => (await http.get('/readyz').set(auth('admin')).expect(status)).body as Report;
    const check = (r: Report, name: string) => r.checks.find((c) => c.name === name);
    const metrics = async () => (await http.get('/metrics').set('Authorization', `Bearer ${scrape.value}`).expect(200)).text;
    /** What the host's layout is made of here: the scratch directory, each share's directory, the mount base. */
    const layout = () => [dir, shareA, shareB, path.join(dir, 'mnt'), path.basename(dir)];
    /**
     * /readyz without a token and with a member's: the admin's status, each check's state and
     * reason, a local share named "share <its directory's name>" (the API's redaction rule), no
     * mount point, nothing of the layout.
     */
    async function publicReadiness(status: number, counts: Record<string, number>): Promise<void> {
      const full = (await http.get('/readyz').set(auth('admin')).expect(status)).body as Report;
      for (const who of [{}, auth('alice'), auth('service')]) {
        const r = await http.get('/readyz').set(who).expect(status);
        const body = r.body as Report;
        expect(body.status, JSON.stringify(who)).to.equal(full.status);
        const tally = { total: body.checks.length, ok: 0, degraded: 0, down: 0 } as Record<string, number>;
        for (const c of body.checks) tally[c.status] = (tally[c.status] ?? 0) + 1;
        expect(tally, JSON.stringify(who)).to.deep.equal(counts);
        expect(body.checks.map((c) => c.name)).to.deep.equal(full.checks.map((c) => c.name.replace(/^share:.*\/(share-[ab])$/, 'share:share $1')));
        expect(body.checks.map((c) => c.status)).to.deep.equal(full.checks.map((c) => c.status));
        expect(body.reasons.length).to.equal(full.reasons.length);
        expect(body.checks.some((c) => 'mountPoint' in c)).to.equal(false);
        expect(leaked(r.text, layout()), r.text).to.deep.equal([]);
      }
    }

    it('ready: the database and both shares ok (mounted, writable)', async () => {
      const r = await ready(200);
      expect(r.status, JSON.stringify(r)).to.equal('ready');
      expect(check(r, 'database')?.status).to.equal('ok');
      for (const s of [shareA, shareB]) expect(check(r, `share:${s}`)).to.include({ status: 'ok', mounted: true, writable: true, mountPoint: s });
      expect((await http.get('/healthz').expect(200)).body.status).to.equal('ok');
      await publicReadiness(200, { total: 3, ok: 3, degraded: 0, down: 0 });
      expect((await http.get('/readyz').expect(200)).body.status).to.equal('ready');
    });

    it('metrics: the scrape credential or an admin token; nobody else, and a refusal names nothing of the host', async () => {
      const admin = (await http.get('/metrics').set(auth('admin')).expect(200)).text;
      expect(sample(admin, `qcowshare_share_mounted{share="${shareA}"}`)).to.equal(1);
      expect(sample(await metrics(), `qcowshare_share_mounted{share="${shareB}"}`)).to.equal(1);
      const refusals = [
        { headers: {}, status: 401, code: 'UNAUTHORIZED' },
        { headers: { Authorization: `Bearer ${scrape.value}x` }, status: 401, code: 'UNAUTHORIZED' },
        { headers: { Authorization: `Basic ${Buffer.from(`u:${scrape.value}`).toString('base64')}` }, status: 401, code: 'UNAUTHORIZED' },
        // The credential is the scrape's only: as an API token it is unknown.
        { headers: { 'X-Auth-Token': scrape.value }, status: 401, code: 'UNAUTHORIZED' },
        { headers: auth('alice'), status: 403, code: 'FORBIDDEN' },
        { headers: auth('service'), status: 403, code: 'FORBIDDEN' },
      ];
      for (const { headers, status, code } of refusals) {
        const r = await http.get('/metrics').set(headers).expect(status);
        expect(Object.values(r.body as Record<string, { error_code: string }>)[0]?.error_code, JSON.stringify(headers)).to.equal(code);
        expect(leaked(r.text, layout()), r.text).to.deep.equal([]);
        expect(r.text).not.to.contain('qcowshare_share');
      }
    });

    it('metrics after a snapshot, a clone and a snapshot delete: capacity, operation durations, bytes moved', async () => {
      const before = await metrics();
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
      const text = await metrics();
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
      await publicReadiness(200, { total: 3, ok: 2, degraded: 0, down: 1 });
      const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await waits.settled('volumes', vid, 'available');
      expect(sample(await metrics(), `qcowshare_share_mounted{share="${shareB}"}`)).to.equal(0);
    });

    it('no share left: down (503), and a create fails with SHARE_UNAVAILABLE naming the shares, not NO_SHARE_SPACE', async () => {
      await rm(shareA, { recursive: true, force: true });
      const r = await ready(503);
      expect(r.status).to.equal('down');
      expect(check(r, 'database')?.status).to.equal('ok');
      await publicReadiness(503, { total: 3, ok: 1, degraded: 0, down: 2 });
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
    const mountPoint = mountPointFor(path.join(dir, 'mnt'), vol.address);
    const ready = (await http.get('/readyz').set(auth('admin')).expect(200)).body as Report;
    expect(ready.status, JSON.stringify(ready)).to.equal('ready');
    expect(ready.checks.find((c) => c.name === name)).to.include({ status: 'ok', mounted: true, writable: true, mountPoint });
    // The share's address (its server and volume) and mount point are an admin's to see.
    // A network share is named by its address, as in the operations' errors; its mount point is an admin's to see.
    const hidden = [mountPoint, path.basename(mountPoint), dir];
    const anonymous = await http.get('/readyz').expect(200);
    expect(anonymous.body.status).to.equal('ready');
    expect((anonymous.body as Report).checks.find((c) => c.name === name)).to.include({ status: 'ok', mounted: true, writable: true }).and.not.have.property('mountPoint');
    expect(leaked(anonymous.text, hidden)).to.deep.equal([]);
    // No scrape credential configured here: the metrics are open, as they were before the credential existed.
    const scraped = (await http.get('/metrics').expect(200)).text;
    expect(sample(scraped, `qcowshare_share_mounted{share="${vol.address}"}`)).to.equal(1);
    await run('umount', [mountPoint], { timeoutMs: 60_000 });
    const down = (await http.get('/readyz').set(auth('admin')).expect(503)).body as Report;
    expect(down.status).to.equal('down');
    expect(down.checks.find((c) => c.name === name)?.reason).to.equal(`not mounted at ${mountPoint}`);
    const anonymousDown = await http.get('/readyz').set(auth('alice')).expect(503);
    expect(anonymousDown.body.status).to.equal('down');
    expect((anonymousDown.body as Report).checks.find((c) => c.name === name)?.reason).to.equal(`not mounted at the mount point of ${vol.address}`);
    expect(leaked(anonymousDown.text, hidden)).to.deep.equal([]);
    const res = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202);
    const op = await apiWaits(() => http).operation(res.headers['x-operation-id'] as string);
    // The operation's error is its owner's to read: the mount point named by the share's address, not by this host's path.
    expect(op.error).to.match(/^SHARE_UNAVAILABLE: /).and.contain(`${vol.address} (not mounted at the mount point of ${vol.address})`).and.not.contain(mountPoint);
  });
});
