/**
 * The coordinator on a real libvirtd with a booted TCG guest running qemu-guest-agent, its volumes
 * qcow2 files on a real GlusterFS mount. One guest for the whole suite; the steps build on each
 * other (one volume's life), and data written in the guest is verified after every step, in the
 * guest and at every remaining snapshot point.
 *
 * Volume A's chain through the suite (names: R = volume-A, Nk = the overlay made by snapshot k):
 *   S1 (plan form, quiesced)  [N1, R]            S1 owns R
 *   S2 (Nova form)            [N2, N1, R]        S2 owns N1
 *   S3 (plan form)            [N3, N2, N1, R]    S3 owns N2
 *   delete S3 (newest):  active commit N3→N2 + pivot   [N2, N1, R]
 *   delete S1 (oldest):  commit N1→R                   [N2, R]     S2 now owns R
 *   S4 [N4, N2, R], S5 [N5, N4, N2, R]
 *   delete S4 (middle):  commit N4→N2                   [N5, N2, R]  S5 now owns N2
 *   delete S5 (Nova delete_info, pull onto R)           [N5, R]
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import supertest from 'supertest';
import { parseServiceConfig } from '../../../src/api/service-config.js';
import type { LibvirtConnection } from '../../../lib/libvirt/index.js';
import { chainNames, parseDomainXml } from '../../../coordinator/domain/disks.js';
import type { SnapshotJob } from '../../../coordinator/jobs/job.js';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/server.js';
import { GuestWriter, createOverlay, ext4NeedsRecovery, openTestConnection } from '../../fixtures/guest/index.js';
import { filesAtPoint, guestDev, guestSha, patternSha, writeData } from '../../fixtures/e2e/coordinator/data.js';
import { bootGuest, type BootedGuest, type Volume } from '../../fixtures/e2e/coordinator/guest.js';
import { ObservedPort } from '../../fixtures/e2e/coordinator/observed-port.js';
import { mountShare, type MountedShare } from '../../fixtures/e2e/coordinator/share.js';
import { StubMetadata } from '../../fixtures/e2e/coordinator/stub-metadata.js';

const TOKEN = `svc-${randomUUID()}`;
/** The coordinator's inbound token (what the storage side presents); TOKEN is its outbound one, what the stub accepts. */
const COORD_TOKEN = `inbound-${randomUUID()}`;
const SIZE = 64 * 1024 * 1024;

describe('coordinator on libvirtd + a booted guest + GlusterFS', function () {
  this.timeout(300_000);
  let conn: LibvirtConnection;
  let share: MountedShare;
  let guest: BootedGuest;
  let stub: StubMetadata;
  let port: ObservedPort;
  let coord: RunningCoordinator;
  let http: ReturnType<typeof supertest>;
  let scratch: string;
  let stateDir: string;
  let A: Volume;
  /** name → sha256 of every file written to volume A so far (the guest must see them all). */
  const written: Record<string, string> = {};
  /** snapshot id → [the file that holds its point, the files it must contain]. */
  const points = new Map<string, { file: string; names: string[] }>();

  const live = async (v: Volume) => chainNames(parseDomainXml(await conn.getXmlDesc(guest.dom)).disks.find((d) => d.serial === v.id) ?? { chain: [] } as never);
  const post = (url: string, body: unknown) => http.post(url).set('x-auth-token', COORD_TOKEN).send(body as object);

  async function waitJob(id: string) {
    const job = await coord.engine.settle(id);
    expect(job, `job ${id}`).to.not.equal(undefined);
    return job as NonNullable<typeof job>;
  }

  async function verifyAll(): Promise<void> {
    for (const [name, sha] of Object.entries(written)) expect(await guestSha(guest, A, name), `guest ${name}`).to.equal(sha);
    for (const [snap, p] of points) {
      const files = await filesAtPoint(path.join(share.dir, p.file), Object.keys(written), scratch);
      for (const n of Object.keys(written)) {
        if (p.names.includes(n)) expect(files[n], `${n} at snapshot ${snap}`).to.equal(written[n]);
        else expect(files[n], `${n} must not be at snapshot ${snap}`).to.equal(null);
      }
    }
  }

  async function newOverlay(v: Volume): Promise<{ snapshotId: string; newFile: string; top: string }> {
    const top = (await live(v))[0] as string;
    const snapshotId = randomUUID();
    const newFile = `volume-${v.id}.${snapshotId}`;
    await createOverlay(share.dir, top, newFile, SIZE);
    return { snapshotId, newFile, top };
  }

  before(async function () {
    scratch = await mkdtemp(path.join(tmpdir(), 'coord-e2e-'));
    stateDir = path.join(scratch, 'state');
    conn = await openTestConnection();
    share = await mountShare();
    guest = await bootGuest(conn, share.dir, 4);
    A = guest.volumes[0] as Volume;
    stub = new StubMetadata(TOKEN, share.dir, SIZE);
    await stub.start();
    port = new ObservedPort(conn, 'qemu:///system');
    const config = parseServiceConfig({
      log: { level: 'silent' },
      coordinator: { port: 0, serviceToken: TOKEN, inboundToken: COORD_TOKEN, selfRegister: false, stateDir, metadataApi: stub.url, pollIntervalMs: 100, quiesce: 'prefer' },
    });
    coord = await startCoordinator(config, { port, log: pino({ level: 'silent' }) });
    http = supertest(coord.url);
  });

  after(async function () {
    await coord?.stop().catch(() => undefined);
    await port?.close().catch(() => undefined);
    await stub?.stop().catch(() => undefined);
    await guest?.cleanup().catch(() => undefined);
    await share?.destroy().catch(() => undefined);
    await conn?.close().catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  });

  it('takes a quiesced storage-initiated snapshot (plan form): the guest is frozen during the snapshot and the point is clean', async () => {
    written['d0'] = await writeData(guest, A, 'd0', 0xa0);
    const writerFile = `/mnt/${await guestDev(guest, A)}/writer.log`;
    const writer = await GuestWriter.start(conn, guest.dom, writerFile);
    const o = await newOverlay(A);
    const res = await post('/v1/snapshots', {
      operation_id: randomUUID(), fencing_token: 1, volume_id: A.id, snapshot_id: o.snapshotId, new_file: o.newFile, expected_top: o.top, quiesce: 'require',
    }).expect(202);
    const job = (await waitJob(res.body.job.id)) as SnapshotJob;
    const gap = await writer.stop();
    expect(job.state, job.error).to.equal('completed');
    expect(job.quiesced).to.equal(true);
    expect(port.statusAtSnapshot.at(-1), 'agent status while snapshotCreateXML ran').to.equal('frozen');
    expect(await live(A)).to.deep.equal([o.newFile, o.top]);
    expect(await ext4NeedsRecovery(path.join(share.dir, o.top), scratch), 'a quiesced point needs no journal recovery').to.equal(false);
    expect(gap.entries).to.be.greaterThan(1);
    console.log(`      freeze: coordinator ${job.freezeMs} ms, longest gap seen by the guest writer ${gap.maxGapMs} ms`);
    const report = stub.of('os-update_snapshot_status').at(-1)?.body;
    expect(report).to.include({ status: 'completed', active_file: o.newFile, quiesced: true, format: 'qcow2' });
    points.set('S1', { file: o.top, names: ['d0'] });
    await guest.exec(`rm -f ${writerFile}; sync`);
    await verifyAll();
  });

  it("takes snapshots from Nova's shape and the plan form, data between them", async () => {
    written['d1'] = await writeData(guest, A, 'd1', 0xa1);
    const o2 = await newOverlay(A);
    await post('/os-assisted-volume-snapshots', { snapshot: { volume_id: A.id, create_info: { snapshot_id: o2.snapshotId, type: 'qcow2', new_file: o2.newFile } } })
      .expect(200, { snapshot: { id: o2.snapshotId, volumeId: A.id } });
    expect((await waitJob(`nova-create-${o2.snapshotId}`)).state).to.equal('completed');
    const cinderForm = stub.calls.filter((c) => c.id === o2.snapshotId && c.action === 'os-update_snapshot_status').at(-1)?.body;
    expect(cinderForm).to.deep.equal({ status: 'available', progress: '100%' });
    points.set('S2', { file: o2.top, names: ['d0', 'd1'] });
    written['d2'] = await writeData(guest, A, 'd2', 0xa2);
    const o3 = await newOverlay(A);
    const r3 = await post('/v1/snapshots', { operation_id: randomUUID(), fencing_token: 1, volume_id: A.id, snapshot_id: o3.snapshotId, new_file: o3.newFile, expected_top: o3.top }).expect(202);
    expect((await waitJob(r3.body.job.id)).state).to.equal('completed');
    points.set('S3', { file: o3.top, names: ['d0', 'd1', 'd2'] });
    written['d3'] = await writeData(guest, A, 'd3', 0xa3);
    expect(await live(A)).to.have.length(4);
    await verifyAll();
  });

  it('refuses a plan that does not match the live chain; nothing changes', async () => {
    const before = await live(A);
    const wrong = [before[0], before[2], before[1], before[3]] as string[];
    const res = await post('/v1/merges', {
      operation_id: randomUUID(), fencing_token: 1, volume_id: A.id, snapshot_id: randomUUID(), operation: 'commit',
      top: wrong[1], base: wrong[2], expected_chain: wrong, result_chain: [wrong[0], wrong[2], wrong[3]],
    }).expect(409);
    expect(res.body.error.code).to.equal('PLAN_MISMATCH');
    expect(await live(A)).to.deep.equal(before);
    await verifyAll();
  });

  it('deletes the newest snapshot live: active commit + pivot, chain verified, data intact', async () => {
    const [n3, n2, n1, r] = (await live(A)) as string[];
    const opId = randomUUID();
    await post('/v1/merges', {
      operation_id: opId, fencing_token: 2, volume_id: A.id, snapshot_id: randomUUID(), operation: 'active_commit',
      top: n3, base: n2, expected_chain: [n3, n2, n1, r], result_chain: [n2, n1, r],
    }).expect(202);
    const job = await waitJob(opId);
    expect(job.state, job.error).to.equal('completed');
    expect(await live(A)).to.deep.equal([n2, n1, r]);
    points.delete('S3');
    expect(stub.calls.filter((c) => c.body.operation_id === opId).map((c) => c.action)).to.include('os-request_commit');
    const progress = stub.calls.filter((c) => c.body.operation_id === opId && c.body.status === 'running').map((c) => c.body.progress as number);
    expect(progress.length).to.be.greaterThan(0);
    expect(progress.every((p) => p >= 0 && p <= 100)).to.equal(true);
    written['d4'] = await writeData(guest, A, 'd4', 0xa4);
    await verifyAll();
  });

  it('deletes the oldest snapshot live: commit of its dependant into the root file', async () => {
    const [n2, n1, r] = (await live(A)) as string[];
    const opId = randomUUID();
    await post('/v1/merges', {
      operation_id: opId, fencing_token: 3, volume_id: A.id, snapshot_id: randomUUID(), operation: 'commit',
      top: n1, base: r, expected_chain: [n2, n1, r], result_chain: [n2, r],
    }).expect(202);
    const job = await waitJob(opId);
    expect(job.state, job.error).to.equal('completed');
    expect(await live(A)).to.deep.equal([n2, r]);
    points.delete('S1');
    points.set('S2', { file: r as string, names: ['d0', 'd1'] });
    await verifyAll();
  });

  it("deletes a middle snapshot (commit) and then the newest with Nova's delete_info (pull)", async () => {
    const o4 = await newOverlay(A);
    const r4 = await post('/v1/snapshots', { operation_id: randomUUID(), fencing_token: 1, volume_id: A.id, snapshot_id: o4.snapshotId, new_file: o4.newFile, expected_top: o4.top }).expect(202);
    expect((await waitJob(r4.body.job.id)).state).to.equal('completed');
    points.set('S4', { file: o4.top, names: ['d0', 'd1', 'd2', 'd3', 'd4'] });
    written['d5'] = await writeData(guest, A, 'd5', 0xa5);
    const o5 = await newOverlay(A);
    const r5 = await post('/v1/snapshots', { operation_id: randomUUID(), fencing_token: 1, volume_id: A.id, snapshot_id: o5.snapshotId, new_file: o5.newFile, expected_top: o5.top }).expect(202);
    expect((await waitJob(r5.body.job.id)).state).to.equal('completed');
    points.set('S5', { file: o5.top, names: ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'] });
    written['d6'] = await writeData(guest, A, 'd6', 0xa6);
    // [N5, N4, N2, R]: S2 owns R, S4 owns N2, S5 owns N4. Delete S4 (middle): commit N4 into N2.
    const [n5, n4, n2, r] = (await live(A)) as string[];
    const opId = randomUUID();
    await post('/v1/merges', {
      operation_id: opId, fencing_token: 4, volume_id: A.id, snapshot_id: randomUUID(), operation: 'commit',
      top: n4, base: n2, expected_chain: [n5, n4, n2, r], result_chain: [n5, n2, r],
    }).expect(202);
    expect((await waitJob(opId)).state).to.equal('completed');
    expect(await live(A)).to.deep.equal([n5, n2, r]);
    points.delete('S4');
    points.set('S5', { file: n2 as string, names: ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'] });
    await verifyAll();
    // Nova: delete S5 (owns N2, the active file's backing) by pulling N2 into the active file.
    const s5 = randomUUID();
    const info = { type: 'qcow2', file_to_merge: r, merge_target_file: null, volume_id: A.id };
    await http.delete(`/os-assisted-volume-snapshots/${s5}`).query({ delete_info: JSON.stringify(info) }).set('x-auth-token', COORD_TOKEN).expect(202);
    expect((await waitJob(`nova-delete-${s5}`)).state).to.equal('completed');
    expect(await live(A)).to.deep.equal([n5, r]);
    points.delete('S5');
    await verifyAll();
  });

  it('snapshots an instance over 4 volumes with ONE freeze and ONE snapshotCreateXML', async () => {
    const shas: string[] = [];
    for (const v of guest.volumes) shas.push(await writeData(guest, v, 'inst', 0xb0));
    const before = await Promise.all(guest.volumes.map((v) => live(v)));
    const freezes = port.freezes;
    const snaps = port.snapshots;
    const res = await post(`/v1/instances/${guest.dom.uuid}/snapshots?wait=true`, { volumes: 'all', quiesce: 'require', name: 'four' }).expect(200);
    const job = res.body.job as SnapshotJob;
    expect(job.state, job.error).to.equal('completed');
    expect(port.freezes - freezes).to.equal(1);
    expect(port.snapshots - snaps).to.equal(1);
    expect(port.statusAtSnapshot.at(-1)).to.equal('frozen');
    expect(job.volumes.map((v) => v.volumeId).sort()).to.deep.equal(guest.volumes.map((v) => v.id).sort());
    for (const [i, v] of guest.volumes.entries()) {
      const after = await live(v);
      const mine = job.volumes.find((x) => x.volumeId === v.id);
      expect(after).to.deep.equal([mine?.newFile, ...(before[i] as string[])]);
      expect(await guestSha(guest, v, 'inst')).to.equal(shas[i]);
      const atPoint = await filesAtPoint(path.join(share.dir, before[i]?.[0] as string), ['inst'], scratch);
      expect(atPoint.inst).to.equal(patternSha(0xb0));
    }
    const completed = stub.of('os-update_snapshot_status').filter((c) => c.body.status === 'completed' && job.volumes.some((v) => v.operationId === c.body.operation_id));
    expect(completed).to.have.length(4);
    written['inst'] = shas[0] as string;
    await verifyAll();
  });

  it('without a guest agent: require refuses before anything is created; prefer snapshots unquiesced and says so', async () => {
    const noAgent = await bootGuest(conn, share.dir, 1, { agent: false });
    try {
      const v = noAgent.volumes[0] as Volume;
      const creates = stub.of('os-create_snapshot_metadata').length;
      const refused = await post(`/v1/instances/${noAgent.dom.uuid}/snapshots`, { volumes: 'all', quiesce: 'require' }).expect(409);
      expect(refused.body.error.code).to.equal('QUIESCE_FAILED');
      expect(stub.of('os-create_snapshot_metadata').length).to.equal(creates);
      const ok = await post(`/v1/instances/${noAgent.dom.uuid}/snapshots?wait=true`, { volumes: 'all', quiesce: 'prefer' }).expect(200);
      const job = ok.body.job as SnapshotJob;
      expect(job.state, job.error).to.equal('completed');
      expect(job.quiesced).to.equal(false);
      expect(job.quiesceNote).to.match(/agent/);
      const chain = chainNames(parseDomainXml(await conn.getXmlDesc(noAgent.dom)).disks.find((d) => d.serial === v.id) ?? { chain: [] } as never);
      expect(chain).to.deep.equal([job.volumes[0]?.newFile, v.root]);
      const report = stub.of('os-update_snapshot_status').find((c) => c.body.operation_id === job.volumes[0]?.operationId && c.body.status === 'completed');
      expect(report?.body.quiesced).to.equal(false);
    } finally {
      await noAgent.cleanup();
    }
  });
});
