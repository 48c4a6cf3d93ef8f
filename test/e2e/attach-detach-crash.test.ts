/**
 * Issue 12, the two live bugs the fault campaign found, on the real stack: the storage service
 * and the coordinator as child processes (MariaDB, GlusterFS; bench/campaign/live-env.ts), libvirtd
 * and the booted test guest. The coordinator kills itself at a named point (lib/core/crash-points.ts)
 * and a new one is started, as the campaign's coordinator-kill does, but at a chosen moment.
 *
 *   1 attach, coordinator killed after the reservation, before the hot-plug
 *       -> the settle pass releases it: available, no disk in the domain;
 *   2 attach, coordinator killed after the hot-plug, before os-complete
 *       -> the settle pass completes it: in-use, the guest has the disk and reads what it wrote;
 *   3 detach, coordinator killed after libvirt was asked for the unplug, the guest PAUSED so the
 *     unplug stays pending (the disk gone from the definition, still in the live XML)
 *       -> while it pends past storage.unplugPendingBoundMs (3 s here), the checker reports
 *          UNPLUG_PENDING (from the coordinator's disk state) and --repair changes nothing;
 *       -> the next detach waits for that unplug (the guest resumed meanwhile) instead of failing
 *          LIBVIRT_ERROR "no target device": available, no disk in the domain.
 * Before the fixes, 1 and 2 stayed `attaching` for good and 3 failed at once.
 */
import { expect } from 'chai';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CRASH_POINTS, type CrashPoint } from '../../lib/core/crash-points.js';
import { DomainXmlFlags } from '../../lib/libvirt/index.js';
import { parseDomainXml } from '../../coordinator/domain/disks.js';
import { until } from '../../bench/campaign/api.js';
import { openLiveEnv, type LiveEnv } from '../../bench/campaign/live-env.js';
import { attach, detach, guestDevice, verifyLive } from '../../bench/campaign/live.js';
import { newVolume, waitStatus } from '../../bench/campaign/workload.js';
import { createTestDatabase, type TestDatabase } from '../fixtures/mariadb.js';

/** The settle pass runs every half lease TTL (1.5 s here) and asks once an attachment is 5 s old (live-env.ts). */
const SETTLE_DEADLINE_MS = 120_000;
/** An unplug pending longer than this is a divergence: short, so the case does not wait minutes. */
const UNPLUG_BOUND_MS = 3000;

describe('attach and detach with the coordinator SIGKILLed at a chosen moment (child processes, libvirtd guest, GlusterFS, MariaDB)', function () {
  this.timeout(900_000);
  let scratch: string;
  let db: TestDatabase;
  let env: LiveEnv;
  const logFile = () => path.join(scratch, 'attach-crash', 'coordinator.log');
  const volumes: string[] = [];

  /** Where the domain has the volume's disk: the running guest (live XML) and the persistent definition. */
  async function plugged(vid: string): Promise<{ live: boolean; persistent: boolean }> {
    const c = await env.conn();
    const has = (xml: string) => parseDomainXml(xml).disks.some((d) => d.serial === vid);
    return { live: has(await c.getXmlDesc(env.guest.dom, 0)), persistent: has(await c.getXmlDesc(env.guest.dom, DomainXmlFlags.INACTIVE)) };
  }

  const volume = async (vid: string) => (await env.api().call('GET', `/v3/volumes/${vid}`, undefined, 'admin')).body.volume as { status: string; attachments: { attachment_id: string }[] };

  const coordinatorCall = (method: 'POST' | 'DELETE', vid: string) => fetch(`${env.coordUrl}/v1/instances/${env.guest.dom.uuid}/volumes/${vid}`, {
    method, headers: { 'X-Auth-Token': env.coordToken }, signal: AbortSignal.timeout(180_000),
  }).then(async (r) => ({ status: r.status, body: await r.text() }));

  /** A coordinator armed to SIGKILL itself at `point`; resolves once the request that reached it died with it. */
  async function killedAt(point: CrashPoint, method: 'POST' | 'DELETE', vid: string): Promise<void> {
    await env.restartCoordinator({ QCOWSHARE_TEST_CRASH_AT: point });
    const dying = env.coordinator();
    const answer = await coordinatorCall(method, vid).then((r) => `${r.status} ${r.body}`, (err: Error) => `no answer: ${err.message}`);
    if (!answer.startsWith('no answer')) {
      await env.restartCoordinator(); // the armed one answered: never reached the point
      expect.fail(`the coordinator answered instead of dying at ${point}: ${answer}`);
    }
    await dying.exited;
    expect(await readFile(logFile(), 'utf8')).to.include(`{"crash_point":"${point}"}`);
    await env.restartCoordinator();
  }

  /**
   * The checker reports the pending unplug once it is older than the bound (the restarted
   * coordinator counts it from when it first sees it, so it is asked until then), as the one
   * divergence, with no repair; --repair leaves the volume in-use.
   */
  async function unplugPendingReported(vid: string): Promise<void> {
    type Check = { divergences: { code: string; repair: string | null; action: string | null }[] };
    const check = async (repair: boolean) => ((await env.api().ok('POST', `/v3/volumes/${vid}/os-check`, { check: { repair } }, 'admin')).body as { check: Check }).check;
    const found = await until('the checker reports the pending unplug', async () => {
      const c = await check(false);
      return c.divergences.length > 0 ? c : undefined;
    }, 120_000, 500);
    expect(found.divergences.map((d) => [d.code, d.repair])).to.deep.equal([['UNPLUG_PENDING', null]]);
    expect(found.divergences[0]?.action).to.match(/reboot the guest/);
    expect((await check(true)).divergences.map((d) => d.code)).to.deep.equal(['UNPLUG_PENDING']);
    expect((await volume(vid)).status).to.equal('in-use');
  }

  /** The volume's invariants once settled: status vs the guest's definition and chain, the checker. */
  async function settledLive(vid: string): Promise<void> {
    expect(await verifyLive(env, env.api(), vid, [])).to.deep.equal([]);
  }

  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'qcs-attach-crash-'));
    await chmod(scratch, 0o755); // QEMU (libvirt-qemu) traverses it to the compute host's mount
    db = await createTestDatabase();
    env = await openLiveEnv(scratch, 'attach-crash', db.config as unknown as Record<string, unknown>, { unplugPendingBoundMs: UNPLUG_BOUND_MS });
  });

  after(async () => {
    if (env) {
      await (await env.conn()).resume(env.guest.dom).catch(() => undefined);
      for (const vid of volumes) {
        if ((await volume(vid).catch(() => undefined))?.status === 'in-use') await detach(env, vid).catch(() => undefined);
        await env.api().call('DELETE', `/v3/volumes/${vid}?cascade=true`, undefined, 'admin').catch(() => undefined);
      }
      await env.close();
    }
    await db?.drop().catch(() => undefined);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('1 attach killed after the reservation: the settle pass releases it (available, no disk in the domain)', async () => {
    const vid = await newVolume(env.api);
    volumes.push(vid);
    await killedAt(CRASH_POINTS.coordinatorAttachReserved, 'POST', vid);
    expect((await volume(vid)).status, 'reserved by the killed attach').to.equal('attaching');
    expect(await plugged(vid)).to.deep.equal({ live: false, persistent: false });
    await waitStatus(env.api, 'volumes', vid, 'available', SETTLE_DEADLINE_MS);
    expect((await env.api().ok('GET', `/v3/attachments?volume_id=${vid}&all_tenants=true`, undefined, 'admin')).body.attachments).to.deep.equal([]);
    expect(await plugged(vid)).to.deep.equal({ live: false, persistent: false });
    await settledLive(vid);
    // The volume attaches again as any available one.
    await attach(env, vid);
    await waitStatus(env.api, 'volumes', vid, 'in-use');
    await settledLive(vid);
    await detach(env, vid);
    await waitStatus(env.api, 'volumes', vid, 'available');
  });

  it('2 attach killed after the hot-plug: the settle pass completes it (in-use, the guest has the disk)', async () => {
    const vid = await newVolume(env.api);
    volumes.push(vid);
    await killedAt(CRASH_POINTS.coordinatorAttachPlugged, 'POST', vid);
    expect((await volume(vid)).status, 'os-complete never sent').to.equal('attaching');
    expect(await plugged(vid)).to.deep.equal({ live: true, persistent: true });
    await waitStatus(env.api, 'volumes', vid, 'in-use', SETTLE_DEADLINE_MS);
    const dev = await until('the guest sees the disk', () => guestDevice(env, vid), 60_000, 250);
    await env.guest.writeBlockPattern(dev, 0x5a, 0, 64);
    const left = await env.guest.exec(`dd if=/dev/${dev} bs=65536 count=1 iflag=direct 2>/dev/null | tr -d '\\132' | wc -c`);
    expect(left.trim(), 'the guest reads back what it wrote').to.equal('0');
    await settledLive(vid);
    await detach(env, vid);
    await waitStatus(env.api, 'volumes', vid, 'available');
    expect(await plugged(vid)).to.deep.equal({ live: false, persistent: false });
  });

  it('3 detach killed after the unplug request, the unplug still pending in the guest: the next detach waits for it and succeeds', async () => {
    const vid = await newVolume(env.api);
    volumes.push(vid);
    await attach(env, vid);
    await waitStatus(env.api, 'volumes', vid, 'in-use');
    const conn = await env.conn();
    // Paused, the guest cannot acknowledge the unplug: it stays pending for as long as the test needs.
    await conn.suspend(env.guest.dom);
    try {
      await killedAt(CRASH_POINTS.coordinatorUnplugRequested, 'DELETE', vid);
      expect(await plugged(vid), 'libvirt dropped the disk from the definition, the live unplug pends').to.deep.equal({ live: true, persistent: false });
      await unplugPendingReported(vid);
      expect(await plugged(vid), 'the checker changed nothing').to.deep.equal({ live: true, persistent: false });
      const logged = (await readFile(logFile(), 'utf8')).length;
      let answered: { status: number; body: string } | undefined;
      const second = coordinatorCall('DELETE', vid).then((r) => r, (err: Error) => ({ status: 0, body: `no answer: ${err.message}` }))
        .then((r) => { answered = r; return r; });
      // The new coordinator meets the pending unplug and waits for the guest (the deterministic
      // point to let the guest run); a detach that answers first (it refused) fails the case.
      const waited = await until('the detach waits for the pending unplug, or answers', async () => {
        const fresh = (await readFile(logFile(), 'utf8')).slice(logged);
        return fresh.includes('waiting for the guest to release the disk') ? 'waiting' : answered ? 'answered' : undefined;
      }, 120_000, 100);
      expect(waited, `the detach answered before waiting: ${JSON.stringify(answered)}`).to.equal('waiting');
      await conn.resume(env.guest.dom);
      const r = await second;
      expect(r.status, r.body).to.equal(204);
    } finally {
      await conn.resume(env.guest.dom).catch(() => undefined);
    }
    await waitStatus(env.api, 'volumes', vid, 'available');
    expect(await plugged(vid)).to.deep.equal({ live: false, persistent: false });
    expect(await guestDevice(env, vid)).to.equal(undefined);
    await settledLive(vid);
  });
});
