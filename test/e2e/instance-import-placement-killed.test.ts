/**
 * Issue 15 item 4, the first placement of an imported instance with the storage service SIGKILLed
 * on the real stack: the booted test guest, this machine's libvirtd, a real coordinator process
 * and a real storage-service process (SQLite, a local share) that kills itself at a crash point.
 * The revert of the imported instance's checkpoint names a host; the move and the volume's
 * attachment there are recorded before the host is asked (first-placement.ts), and the restarted
 * service's recovery passes settle from the host's own answer (settle-host-move.ts,
 * first-placement-plan.ts):
 *
 *   killed before the host was asked (storage.checkpoint_before_revert): the database already
 *     names the move and the attachment, the host has no such domain. The host answers that it
 *     does not have the instance: the overlay is abandoned (the volume's files as before), the
 *     volume detached, the checkpoint `error` saying why; os-check clean.
 *   killed after the host restored it (storage.checkpoint_reverted), reverting that checkpoint
 *     again: the guest runs with the checkpoint's RAM and bytes; once restarted, the instance is
 *     placed (the checkpoint `available`, its move done, the volume `in-use` attached to it on that
 *     host), the guest's live and persistent disks are the volume's active file by its tree, which
 *     reads the checkpoint's bytes (in the guest and with qemu-io); os-check clean.
 *
 * One guest boot: it takes the checkpoint, is shut off, exported and undefined; the archive is
 * imported with new ids (the stand-in version with every host answer, including none:
 * test/integration/src/api/usecases/checkpoints/first-placement-killed.test.ts). The guest is the
 * kind an import accepts (see instance-import-revert.test.ts).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { CRASH_POINTS } from '../../lib/core/crash-points.js';
import { parseDomainXml } from '../../coordinator/domain/disks.js';
import { DomainState, DomainXmlFlags, UndefineFlags, type DomainRef, type LibvirtConnection } from '../../lib/libvirt/index.js';
import { openRepositories } from '../../src/db/index.js';
import type { DaemonProcess } from '../fixtures/e2e/coordinator/daemon-process.js';
import { ImportSite } from '../fixtures/e2e/import-site.js';
import { execInGuest, hasPattern, openTestConnection } from '../fixtures/guest/index.js';
import { guestVolumeBytes } from '../fixtures/guest/volume-bytes.js';
import { removeSuiteDomain, waitForRunningAgent } from '../fixtures/guest/suite-domain.js';
import { auth, eventually, type TestDb } from '../fixtures/api/harness.js';
import { binary } from '../fixtures/binary-body.js';

const KiB = 256;
/** Short: the dead service's leases lapse soon, and the sweep (every half of it) settles after them. */
const LEASE_TTL_MS = 3000;

describe('the first placement of an imported instance with the storage service SIGKILLed (booted guest, real coordinator)', function () {
  this.timeout(900_000);
  const site = new ImportSite(`placekill-${randomUUID().slice(0, 8)}`, LEASE_TTL_MS);
  const HOST = site.host;
  const source = randomUUID();
  let conn: LibvirtConnection;
  let dom: DomainRef | undefined;
  /** The volume the guest's bytes are read from: the source's, then the imported one. */
  let vol = '';
  /** The imported instance, its checkpoint, and its volume's files before its first placement. */
  let imported = '';
  let cp = '';
  let filesBefore: string[] = [];

  const api = () => site.api();
  const exec = (script: string) => execInGuest(conn, dom as DomainRef, script);
  const bytes = guestVolumeBytes(exec, () => vol, KiB);
  const disksOf = (xml: string) => parseDomainXml(xml).disks;
  const volumeFiles = () => fs.readdirSync(site.share).filter((n) => n.startsWith(`volume-${vol}`)).sort();
  const onHost = (uuid: string) => conn.lookupByUuid(uuid).then(() => true, () => false);

  /** A revert of the imported checkpoint on HOST, the service dying at `point` (the 202 may or may not reach us first). */
  async function revertKilledAt(point: string): Promise<void> {
    const dying = site.svc as DaemonProcess;
    const r = await api().post(`/v3/os-checkpoints/${cp}/action`).set(auth('admin')).send({ revert: { host: HOST } }).catch(() => undefined);
    if (r !== undefined) expect(r.status, r.text).to.equal(202);
    await eventually(async () => (dying.child.exitCode !== null || dying.child.signalCode !== null ? true : undefined), 300_000);
    expect(dying.child.signalCode).to.equal('SIGKILL');
    expect(await readFile(path.join(site.scratch, 'service.log'), 'utf8')).to.include(`"crash_point":"${point}"`);
    site.svc = undefined;
  }

  before(async function () {
    this.timeout(600_000);
    // The service kills itself at the first test's crash point, which only a revert reaches.
    await site.open('qcs-placekill-', CRASH_POINTS.storageCheckpointBeforeRevert);
    vol = (await api().post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await site.untilVolume(vol, 'available');
    conn = await openTestConnection();
    dom = await site.bootGuest(conn, { instance: source, name: `placekill-${source.slice(0, 8)}`, vol, who: 'alice' });

    // The checkpoint: RAM marker `one`, bytes 0xa1; then both changed, so that only a restore of it shows them.
    await exec('echo one > /ram-state');
    await bytes.write(0xa1);
    const c1 = (await api().post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: source, name: 'c1' } }).expect(202)).body.checkpoint.id as string;
    const c = await site.settled(c1);
    expect(c.status, String(c.error)).to.equal('available');
    await exec('echo two > /ram-state');
    await bytes.write(0xb2);
    await conn.destroy(dom);
    const r = await api().get(`/v3/os-instances/${source}/os-export`).set(auth('admin')).buffer(true).parse(binary);
    expect(r.status, String(r.body)).to.equal(200);
    // The source goes from the host (every import of the archive has its domain name) and its volume is detached.
    await conn.undefine(dom, UndefineFlags.SNAPSHOTS_METADATA);
    dom = undefined;
    await api().post(`/v3/volumes/${vol}/action`).set(auth('alice')).send({ 'os-detach': {} }).expect(202);
    await site.untilVolume(vol, 'available');

    const got = await api().post('/v3/os-instance-import').set(auth('admin')).set('content-type', 'application/x-tar').send(r.body as Buffer);
    expect(got.status, JSON.stringify(got.body)).to.equal(201);
    const placed = got.body.instance_import as { instance_uuid: string; volumes: { id: string }[]; checkpoints: { id: string }[] };
    [imported, vol, cp] = [placed.instance_uuid, placed.volumes[0]?.id as string, placed.checkpoints[0]?.id as string];
    expect((await site.checkpoint(cp)).host_move, 'imported, never placed').to.equal(null);
    filesBefore = volumeFiles();
  });

  after(async function () {
    this.timeout(300_000);
    await removeSuiteDomain(undefined, imported || undefined);
    await removeSuiteDomain(conn, source);
    await site.close();
  });

  it('killed before the host was asked: the move and the attachment were recorded; the host says it does not have the instance, so the overlay is abandoned, the volume detached, the checkpoint error', async () => {
    await revertKilledAt(CRASH_POINTS.storageCheckpointBeforeRevert);

    // Recorded before the host was asked: the move, the attachment there, the overlay prepared.
    const repos = await openRepositories((site.db as TestDb).config);
    try {
      const row = await repos.checkpoints.get(cp);
      expect([row?.status, row?.hostMove?.from, row?.hostMove?.to, row?.hostMove?.state]).to.deep.equal(['reverting', '', HOST, 'intended']);
      expect((await repos.attachments.activeOf(vol)).map((a) => [a.instanceUuid, a.host])).to.deep.equal([[imported, HOST]]);
    } finally {
      await repos.db.close();
    }
    expect(volumeFiles().length, 'the overlay the host was to restore onto').to.equal(filesBefore.length + 1);
    expect(await onHost(imported), 'the host was never asked').to.equal(false);

    // (The next start kills itself after the next restore: the second test's crash point.)
    await site.startService(CRASH_POINTS.storageCheckpointReverted);
    const c = await site.settled(cp);
    expect(c.status).to.equal('error');
    expect(String(c.error)).to.match(new RegExp(`host ${HOST} does not have the instance \\(the restore never reached it\\)`));
    expect(c.host_move).to.deep.include({ from: '', to: HOST, state: 'abandoned' });
    const v = await site.volume(vol);
    expect([v.status, v.attachments]).to.deep.equal(['available', []]);
    expect(volumeFiles(), 'the overlay abandoned: the volume\'s files as before').to.deep.equal(filesBefore);
    expect(await onHost(imported)).to.equal(false);
    expect(await site.divergences(), 'os-check after the placement the host never saw').to.deep.equal([]);
  });

  it('killed after the host restored it (reverted again): the restarted service places it there; the guest runs the checkpoint\'s RAM and bytes on the volume\'s active file', async () => {
    await revertKilledAt(CRASH_POINTS.storageCheckpointReverted);
    dom = await conn.lookupByUuid(imported);
    expect((await conn.getState(dom)).state, 'the host restored the guest').to.equal(DomainState.RUNNING);

    await site.startService();
    const c = await site.settled(cp);
    expect(c.status, String(c.error)).to.equal('available');
    expect(c.host_move).to.deep.include({ from: '', to: HOST, state: 'done' });
    const v = await site.volume(vol);
    expect(v.status).to.equal('in-use');
    expect(v.attachments.map((a) => [a.server_id, a.host_name])).to.deep.equal([[imported, HOST]]);

    // The overlay's revert intent settles from the guest's definition (the attached-volume pass).
    const live = () => conn.getXmlDesc(dom as DomainRef).then((x) => disksOf(x).find((d) => d.target === 'vdb')?.chain[0]?.path);
    const active = await eventually(async () => {
      const [t, file] = [await site.tree(vol), await live()];
      return file !== undefined && path.join(site.share, t.active_file) === file ? file : undefined;
    }, 300_000);
    for (const d of [...disksOf(await conn.getXmlDesc(dom)), ...disksOf(await conn.getXmlDesc(dom, DomainXmlFlags.INACTIVE))]) {
      for (const f of d.chain) expect(path.dirname(String(f.path)) === site.share && path.basename(String(f.path)).startsWith(`volume-${vol}`), `${f.path} is a file of volume ${vol}`).to.equal(true);
    }
    expect(disksOf(await conn.getXmlDesc(dom, DomainXmlFlags.INACTIVE)).find((d) => d.target === 'vdb')?.chain[0]?.path, 'the persistent definition names it too').to.equal(active);

    await waitForRunningAgent(conn, dom);
    expect((await exec('cat /ram-state')).trim(), 'RAM as at the checkpoint').to.equal('one');
    expect(await bytes.has(0xa1), 'the guest reads the checkpoint\'s bytes').to.equal(true);
    expect(await hasPattern(active, 0xa1, 0, KiB), 'the active file reads the checkpoint\'s bytes (qemu-io)').to.equal(true);
    expect(await site.divergences(), 'os-check after the interrupted placement converged').to.deep.equal([]);
  });
});
