/**
 * Checkpoints (memory + disks) of a real booted guest (TCG, qemu-ga) with two product-named
 * volumes, taken and reverted by coordinator/checkpoint against the real libvirtd.
 *
 * The guest's root is its initramfs, so /ram-state lives in RAM only: after a revert it can only
 * hold the checkpoint's value if the memory really came back. Byte patterns on the volumes are
 * checked in the guest (caches dropped) and on the host with qemu-io at every step.
 *
 *   c1: RAM "one",   vdb [A]        vdc [P]
 *   c2: RAM "two",   vdb [A,B]      vdc [P]
 *   then RAM "three", vdb [A,B,C]   vdc [Q]
 *   revert c1 → c1's state; revert c2 → c2's state; delete c1; revert c2 again.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import { KeyedMutex } from '../../../../lib/core/keyed-mutex.js';
import { logger } from '../../../../lib/core/logger.js';
import { withCheckpointRoutes } from '../../../../coordinator/checkpoint/routes.js';
import { isStorageError } from '../../../../lib/core/errors.js';
import { AffectFlags, DomainJobType, DomainState, DomainXmlFlags, UndefineFlags, type DomainRef, type LibvirtConnection } from '../../../../lib/libvirt/index.js';
import { parseDomainXml } from '../../../../coordinator/domain/disks.js';
import { SAVE_MAGIC, checkpointPaths } from '../../../../coordinator/checkpoint/plan.js';
import { NVRAM_FILE, NVRAM_PREVIOUS_FILE, nvramPathOf } from '../../../../coordinator/checkpoint/nvram.js';
import { REVERT_INTENT_FILE, writeFileAtomic, type CheckpointRecord } from '../../../../coordinator/checkpoint/record.js';
import {
  deleteCheckpoint, planRevert, readCheckpoint, revertCheckpoint, settleRevert, settleTake, takeCheckpoint, type CheckpointDeps,
} from '../../../../coordinator/checkpoint/runner.js';
import {
  createDisk, createOverlay, diskXml, execInGuest, guestImage, guestXml, hasPattern, openTestConnection,
} from '../../../fixtures/guest/index.js';
import { makeRunDir } from '../../../fixtures/guest/paths.js';
import { removeSuiteDomain, waitForDomainAgent } from '../../../fixtures/guest/suite-domain.js';

const KiB = 256;
const P = { A: [0xa1, 0], B: [0xb2, 1024], C: [0xc3, 2048], P: [0x51, 0], Q: [0x52, 0], Z: [0x00, 1024], Z2: [0x00, 2048] } as const;
type Pat = readonly [number, number];

describe('instance checkpoints with memory state on a booted guest', function () {
  this.timeout(600_000);
  let conn: LibvirtConnection;
  let dir: string;
  let dom: DomainRef;
  let deps: CheckpointDeps;
  const instance = randomUUID();
  const v1 = randomUUID();
  const v2 = randomUUID();
  let c1: CheckpointRecord;
  let c2: CheckpointRecord;
  const progress: bigint[] = [];

  const exec = (script: string) => execInGuest(conn, dom, script);
  const tr = (b: number) => `\\${b.toString(8).padStart(3, '0')}`;
  /** The guest's own name of a libvirt target: found by the volume id in its serial, not by order. */
  async function guestDev(target: string): Promise<string> {
    const serial = (target === 'vdb' ? v1 : v2).slice(0, 20);
    const out = (await exec(`for b in /sys/block/vd*; do [ "$(cat $b/serial 2>/dev/null)" = "${serial}" ] && echo \${b##*/}; done; true`)).trim();
    if (!/^vd[a-z]$/.test(out)) throw new Error(`the guest does not show ${target} (serial ${serial}): '${out}'`);
    return out;
  }
  async function write(libvirtTarget: string, [byte, off]: Pat): Promise<void> {
    const target = await guestDev(libvirtTarget);
    await exec(`head -c ${KiB * 1024} /dev/zero | tr '\\000' '${tr(byte)}' | dd of=/dev/${target} bs=1024 seek=${off} count=${KiB} iflag=fullblock conv=fsync 2>/dev/null`);
  }
  async function guestHas(libvirtTarget: string, [byte, off]: Pat): Promise<boolean> {
    const target = await guestDev(libvirtTarget);
    const out = await exec(`sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/${target} bs=1024 skip=${off} count=${KiB} 2>/dev/null | od -An -v -tx1 | tr -s ' \\n' '\\n\\n' | sort -u | grep -v '^$'`);
    return out.trim() === byte.toString(16).padStart(2, '0');
  }
  async function activeFile(target: string): Promise<string> {
    const d = parseDomainXml(await conn.getXmlDesc(dom)).disks.find((x) => x.target === target);
    return d?.chain[0]?.path as string;
  }
  const waitForAgent = () => waitForDomainAgent(conn, dom);
  /** The whole state of one checkpoint point, in the guest and on the host. */
  async function expectState(ram: string, vdb: Pat[], vdc: Pat[]): Promise<void> {
    expect((await exec('cat /ram-state')).trim()).to.equal(ram);
    for (const p of vdb) {
      expect(await guestHas('vdb', p), `guest vdb ${p.join('@')}`).to.equal(true);
      expect(await hasPattern(await activeFile('vdb'), p[0], p[1], KiB), `host vdb ${p.join('@')}`).to.equal(true);
    }
    for (const p of vdc) {
      expect(await guestHas('vdc', p), `guest vdc ${p.join('@')}`).to.equal(true);
      expect(await hasPattern(await activeFile('vdc'), p[0], p[1], KiB), `host vdc ${p.join('@')}`).to.equal(true);
    }
  }
  async function revert(record: CheckpointRecord): Promise<void> {
    await revertCheckpoint(deps, instance, record.id);
    dom = await conn.lookupByUuid(instance);
    await waitForAgent();
  }

  before(async function () {
    this.timeout(300_000);
    conn = await openTestConnection();
    dir = makeRunDir('ckpt');
    const vols = path.join(dir, 'vols');
    fs.mkdirSync(vols, { mode: 0o755 });
    const image = await guestImage();
    const disks = [
      { target: 'vdb', serial: v1, file: await createDisk(vols, `volume-${v1}`, 64 << 20, 'blank') },
      { target: 'vdc', serial: v2, file: await createDisk(vols, `volume-${v2}`, 64 << 20, 'blank') },
    ];
    const xml = guestXml({ name: `ckpt-${instance.slice(0, 8)}`, ...image, disks, agent: true, consoleLog: path.join(dir, 'console.log') })
      .replace('<name>', `<uuid>${instance}</uuid><name>`);
    dom = await conn.defineXml(xml);
    dom = await conn.create(dom);
    await waitForAgent();
    deps = {
      libvirt: conn, shareMount: dir,
      makeOverlay: async (d, backing, overlay, size) => { await createOverlay(d, backing, overlay, size); },
    };
  });

  after(async function () {
    this.timeout(60_000);
    // KEEP_NVRAM: the firmware store of the NVRAM case lives in the run directory, removed below.
    await removeSuiteDomain(conn, dom, UndefineFlags.SNAPSHOTS_METADATA | UndefineFlags.KEEP_NVRAM);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('takes c1 (consistent) in one call: memory file, definition with the CPU, record; the guest runs on new overlays', async () => {
    await exec('echo one > /ram-state');
    await write('vdb', P.A);
    await write('vdc', P.P);
    const before = { vdb: await activeFile('vdb'), vdc: await activeFile('vdc') };
    c1 = await takeCheckpoint(deps, { instanceUuid: instance, name: 'c1', onProgress: (done) => progress.push(done), progressIntervalMs: 20 });
    expect(c1.status).to.equal('available');
    expect(c1.volumes.map((v) => [v.target, v.snapshotPoint])).to.deep.equal([['vdb', before.vdb], ['vdc', before.vdc]]);
    const files = checkpointPaths(dir, instance, c1.id);
    const mem = fs.readFileSync(files.memory).subarray(0, 16).toString('latin1');
    expect(mem).to.equal(SAVE_MAGIC);
    expect(fs.statSync(files.memory).size).to.equal(c1.memorySize);
    expect(fs.statSync(files.memory).mode & 0o777).to.equal(0o600);
    expect(fs.statSync(files.definition).mode & 0o777).to.equal(0o600);
    expect(fs.readFileSync(files.definition, 'utf8')).to.match(/<cpu\b/);
    expect(await activeFile('vdb')).to.not.equal(before.vdb);
    expect((await conn.getState(dom)).state).to.equal(DomainState.RUNNING);
    // No job runs once the call returned; the reply decodes with all its counters.
    expect((await conn.getJobInfo(dom)).type).to.equal(DomainJobType.NONE);
    // The snapshot point holds c1's data, on the host.
    expect(await hasPattern(before.vdb, P.A[0], P.A[1], KiB)).to.equal(true);
    expect(await hasPattern(before.vdc, P.P[0], P.P[1], KiB)).to.equal(true);
  });

  it('takes c2 in live mode after RAM and disks changed', async () => {
    await exec('echo two > /ram-state');
    await write('vdb', P.B);
    c2 = await takeCheckpoint(deps, { instanceUuid: instance, name: 'c2', mode: 'live' });
    expect(c2.mode).to.equal('live');
    await exec('echo three > /ram-state');
    await write('vdb', P.C);
    await write('vdc', P.Q);
    await expectState('three', [P.A, P.B, P.C], [P.Q]);
  });

  it('refuses a revert to a checkpoint whose definition or memory file was replaced, before anything changes', async () => {
    const files = checkpointPaths(dir, instance, c1.id);
    const activeBefore = await activeFile('vdb');
    const def = fs.readFileSync(files.definition);
    fs.writeFileSync(files.definition, def.toString().replace(/<\/devices>/, `<disk type='file' device='disk'><source file='/etc/shadow'/><target dev='vdz'/></disk></devices>`));
    const e1 = await revertCheckpoint(deps, instance, c1.id).then(() => null, (e: unknown) => e);
    expect(isStorageError(e1, 'CHECKPOINT_DEFINITION_UNSAFE'), String(e1)).to.equal(true);
    fs.writeFileSync(files.definition, def);
    fs.chmodSync(files.definition, 0o600);

    const mem = fs.readFileSync(files.memory);
    const swapped = `${files.memory}.orig`;
    fs.renameSync(files.memory, swapped);
    fs.writeFileSync(files.memory, mem.subarray(0, mem.length - 4096));
    const e2 = await revertCheckpoint(deps, instance, c1.id).then(() => null, (e: unknown) => e);
    expect(isStorageError(e2, 'CHECKPOINT_MEMORY_UNSAFE'), String(e2)).to.equal(true);
    fs.writeFileSync(files.memory, Buffer.concat([Buffer.from('QFI\xfb'), mem.subarray(4)]));
    const e3 = await revertCheckpoint(deps, instance, c1.id).then(() => null, (e: unknown) => e);
    expect(isStorageError(e3, 'CHECKPOINT_MEMORY_UNSAFE'), String(e3)).to.equal(true);
    fs.rmSync(files.memory);
    fs.symlinkSync(swapped, files.memory);
    const e4 = await revertCheckpoint(deps, instance, c1.id).then(() => null, (e: unknown) => e);
    expect(isStorageError(e4, 'CHECKPOINT_MEMORY_UNSAFE'), String(e4)).to.equal(true);
    fs.rmSync(files.memory);
    fs.renameSync(swapped, files.memory);

    expect(await activeFile('vdb')).to.equal(activeBefore);
    expect(fs.existsSync(path.join(path.dirname(files.dir), REVERT_INTENT_FILE))).to.equal(false);
    await expectState('three', [P.A, P.B, P.C], [P.Q]);
  });

  it('reverts to c1: RAM and both volumes are exactly c1\'s and the guest runs on; c2 is kept', async () => {
    await revert(c1);
    expect((await conn.getState(dom)).state).to.equal(DomainState.RUNNING);
    await expectState('one', [P.A, P.Z, P.Z2], [P.P]);
    const vdb = await activeFile('vdb');
    expect(path.basename(vdb)).to.match(new RegExp(`^volume-${v1}\\.`));
    expect(vdb).to.not.equal(c1.volumes[0]!.snapshotPoint);
    expect(fs.existsSync(checkpointPaths(dir, instance, c2.id).memory)).to.equal(true);
    // The persistent definition follows the restored guest.
    const persistent = parseDomainXml(await conn.getXmlDesc(dom, 2));
    expect(persistent.disks.find((d) => d.target === 'vdb')?.chain[0]?.path).to.equal(vdb);
    // The guest keeps working on its branch.
    await exec('echo one-b > /ram-state');
    await write('vdb', P.C);
  });

  it('reverts to c2 (another branch): c2\'s RAM and disks', async () => {
    await revert(c2);
    await expectState('two', [P.A, P.B, P.Z2], [P.P]);
  });

  it('deletes c1 (its memory file and definition); reverting to c2 again still works', async () => {
    await deleteCheckpoint(deps, instance, c1.id);
    expect(fs.existsSync(checkpointPaths(dir, instance, c1.id).dir)).to.equal(false);
    const gone = await revertCheckpoint(deps, instance, c1.id).then(() => null, (e: unknown) => e);
    expect(isStorageError(gone, 'NOT_FOUND'), String(gone)).to.equal(true);
    await exec('echo four > /ram-state');
    await revert(c2);
    await expectState('two', [P.A, P.B, P.Z2], [P.P]);
  });

  it('settles a revert interrupted after the destroy and before the restore (restores c2 again)', async () => {
    const plan = await planRevert(deps, instance, c2.id);
    const intentFile = path.join(path.dirname(checkpointPaths(dir, instance, c2.id).dir), REVERT_INTENT_FILE);
    await writeFileAtomic(intentFile, JSON.stringify({
      checkpointId: c2.id, instanceUuid: instance, phase: 'destroyed', paused: false, started: new Date().toISOString(),
      previousDefinition: await conn.getXmlDesc(dom, 2 | 1), overlays: plan.overlays,
    }), 0o600);
    await exec('echo five > /ram-state');
    await conn.destroy(dom);
    expect(await settleRevert(deps, instance)).to.equal('restored');
    dom = await conn.lookupByUuid(instance);
    await waitForAgent();
    await expectState('two', [P.A, P.B, P.Z2], [P.P]);
    expect(await activeFile('vdb')).to.equal(plan.overlays[0]!.path);
    expect(fs.existsSync(intentFile)).to.equal(false);
    expect(await settleRevert(deps, instance)).to.equal('none');
  });

  it('settles an intent whose restore already happened (finished, guest untouched) and one never destroyed (undone)', async () => {
    const intentFile = path.join(path.dirname(checkpointPaths(dir, instance, c2.id).dir), REVERT_INTENT_FILE);
    const running = [{ volumeId: v1, target: 'vdb', path: await activeFile('vdb') }, { volumeId: v2, target: 'vdc', path: await activeFile('vdc') }];
    const intent = (phase: string, overlays: unknown[]) => writeFileAtomic(intentFile, JSON.stringify({
      checkpointId: c2.id, instanceUuid: instance, phase, paused: false, started: '', previousDefinition: '<domain/>', overlays,
    }), 0o600);
    await exec('echo untouched > /ram-state');
    await intent('destroyed', running);
    expect(await settleRevert(deps, instance)).to.equal('finished');
    expect((await exec('cat /ram-state')).trim()).to.equal('untouched');
    expect(fs.existsSync(intentFile)).to.equal(false);

    const plan = await planRevert(deps, instance, c2.id);
    for (const [i, v] of c2.volumes.entries()) await createOverlay(path.dirname(v.snapshotPoint), path.basename(v.snapshotPoint), path.basename(plan.overlays[i]!.path), v.sizeBytes);
    await intent('prepared', plan.overlays);
    expect(await settleRevert(deps, instance)).to.equal('undone');
    for (const o of plan.overlays) expect(fs.existsSync(o.path), o.path).to.equal(false);
    expect((await exec('cat /ram-state')).trim()).to.equal('untouched');
    expect(await activeFile('vdb')).to.equal(running[0]!.path);
  });

  it('serves create / list / show / revert / delete over the coordinator\'s HTTP routes (token required, bad input refused)', async () => {
    const token = randomUUID();
    const app = withCheckpointRoutes(express(), deps, new KeyedMutex(), token, logger('test'));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/instances/${instance}/checkpoints`;
    const call = (method: string, url: string, body?: unknown, auth = true) => fetch(url, {
      method, headers: { 'content-type': 'application/json', ...(auth ? { 'x-auth-token': token } : {}) }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    try {
      expect((await call('GET', base, undefined, false)).status).to.equal(401);
      const bad = await call('POST', base, { mode: 'sideways' });
      expect(bad.status).to.equal(400);
      expect(((await bad.json()) as { error: { code: string } }).error.code).to.equal('INVALID_INPUT');
      expect((await call('POST', base, { exclude: ['vdz'] })).status).to.equal(400);

      await exec('echo http > /ram-state');
      const created = await call('POST', base, { name: 'c3', description: 'over http' });
      expect(created.status).to.equal(201);
      const c3 = ((await created.json()) as { checkpoint: CheckpointRecord }).checkpoint;
      expect(c3).to.include({ name: 'c3', description: 'over http', status: 'available', instanceUuid: instance });
      const list = ((await (await call('GET', base)).json()) as { checkpoints: { id: string }[] }).checkpoints.map((x) => x.id);
      expect(list).to.have.members([c2.id, c3.id]);
      expect(((await (await call('GET', `${base}/${c3.id}`)).json()) as { checkpoint: CheckpointRecord }).checkpoint.memorySize).to.equal(c3.memorySize);
      expect((await call('GET', `${base}/${randomUUID()}`)).status).to.equal(404);
      expect((await call('GET', `${base}/not-a-uuid`)).status).to.equal(400);

      await exec('echo later > /ram-state');
      const reverted = await call('POST', `${base}/${c3.id}/revert`, { paused: true });
      expect(reverted.status).to.equal(200);
      dom = await conn.lookupByUuid(instance);
      expect((await conn.getState(dom)).state).to.equal(DomainState.PAUSED);
      await conn.resume(dom);
      await waitForAgent();
      expect((await exec('cat /ram-state')).trim()).to.equal('http');
      expect((await call('DELETE', `${base}/${c3.id}`)).status).to.equal(204);
      expect(fs.existsSync(checkpointPaths(dir, instance, c3.id).dir)).to.equal(false);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a volume hot-plugged after the checkpoint is gone after the revert (definition, live domain and guest agree; reported as detached)', async () => {
    const v3 = randomUUID();
    const file = await createDisk(path.join(dir, 'vols'), `volume-${v3}`, 16 << 20, 'blank');
    await conn.attachDevice(dom, diskXml({ target: 'vdd', serial: v3, file }), AffectFlags.LIVE | AffectFlags.CONFIG);
    const serials = (xml: string) => parseDomainXml(xml).disks.map((d) => d.serial);
    expect(serials(await conn.getXmlDesc(dom))).to.include(v3);
    const result = await revertCheckpoint(deps, instance, c2.id);
    dom = await conn.lookupByUuid(instance);
    await waitForAgent();
    expect(result.detachedVolumes).to.deep.equal([v3]);
    expect(serials(await conn.getXmlDesc(dom))).to.not.include(v3);
    expect(serials(await conn.getXmlDesc(dom, 2))).to.not.include(v3);
    const seen = await exec(`cat /sys/block/vd*/serial 2>/dev/null; true`);
    expect(seen).to.not.include(v3.slice(0, 20));
    await expectState('two', [P.A, P.B, P.Z2], [P.P]);
  });

  it('settles takes a crash interrupted: finished when libvirt took it, removed when it did not', async () => {
    // A crash right after libvirt's atomic call: the record is still `creating`.
    const crashing = { ...deps, libvirt: Object.assign(Object.create(conn) as LibvirtConnection, {
      snapshotCreateXml: async (d: DomainRef, xml: string, flags: number) => { await conn.snapshotCreateXml(d, xml, flags); throw new Error('crash after the call'); },
    }) };
    await exec('echo taken > /ram-state');
    const err = await takeCheckpoint(crashing, { instanceUuid: instance, name: 'c4' }).then(() => null, (e: unknown) => e);
    expect(String(err)).to.match(/crash after the call/);
    const root = path.join(dir, 'checkpoints', instance);
    const ids = fs.readdirSync(root).filter((n) => n !== REVERT_INTENT_FILE);
    const c4 = ids.find((id) => JSON.parse(fs.readFileSync(path.join(root, id, 'checkpoint.json'), 'utf8')).status === 'creating') as string;
    expect(c4).to.be.a('string');
    expect(await settleTake(deps, instance, c4)).to.equal('finished');
    const rec = await readCheckpoint(deps, instance, c4);
    expect(rec.status).to.equal('available');
    expect(rec.memorySize).to.equal(fs.statSync(checkpointPaths(dir, instance, c4).memory).size);
    await planRevert(deps, instance, c4);

    // A crash before the call: its overlays exist but the guest never used them.
    const c5 = randomUUID();
    const files = checkpointPaths(dir, instance, c5);
    fs.mkdirSync(files.dir, { mode: 0o750 });
    const point = await activeFile('vdb');
    const overlay = path.join(path.dirname(point), `volume-${v1}.${randomUUID()}`);
    await createOverlay(path.dirname(point), path.basename(point), path.basename(overlay), 64 << 20);
    await writeFileAtomic(path.join(files.dir, 'checkpoint.json'), JSON.stringify({
      ...rec, id: c5, status: 'creating', volumes: [{ ...rec.volumes[0], snapshotPoint: point }], overlays: [overlay],
    }));
    expect(await settleTake(deps, instance, c5)).to.equal('undone');
    expect(fs.existsSync(overlay)).to.equal(false);
    expect(fs.existsSync(files.dir)).to.equal(false);
    expect(await activeFile('vdb')).to.equal(point);
  });

  it('refuses a revert when a volume of the checkpoint is gone, before anything changes', async () => {
    const point = c2.volumes[1]!.snapshotPoint;
    const moved = `${point}.moved`;
    fs.renameSync(point, moved);
    try {
      const active = await activeFile('vdb');
      const e = await revertCheckpoint(deps, instance, c2.id).then(() => null, (x: unknown) => x);
      expect(isStorageError(e, 'CHECKPOINT_VOLUME_GONE'), String(e)).to.equal(true);
      expect(await activeFile('vdb')).to.equal(active);
    } finally {
      fs.renameSync(moved, point);
    }
  });

  it('takes a disk-only checkpoint of the stopped instance; its revert restores volumes and definition and leaves it stopped', async () => {
    await conn.destroy(dom);
    const stoppedOn = await activeFile('vdb');
    const { run } = await import('../../../../lib/core/process.js');
    const qemuWrite = (file: string, [byte, off]: Pat) => run('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x${byte.toString(16)} ${off}k ${KiB}k`, file]);
    await qemuWrite(stoppedOn, P.C);
    const d1 = await takeCheckpoint(deps, { instanceUuid: instance, name: 'd1' });
    expect(d1).to.include({ mode: 'disk-only', memorySize: 0, status: 'available' });
    expect(fs.existsSync(checkpointPaths(dir, instance, d1.id).memory)).to.equal(false);
    expect(d1.volumes[0]!.snapshotPoint).to.equal(stoppedOn);
    const after = await activeFile('vdb');
    expect(after).to.not.equal(stoppedOn);
    await qemuWrite(after, P.Q);
    expect(await hasPattern(after, P.Q[0], P.Q[1], KiB)).to.equal(true);

    await revertCheckpoint(deps, instance, d1.id);
    expect((await conn.getState(dom)).state).to.equal(DomainState.SHUTOFF);
    const reverted = await activeFile('vdb');
    expect(reverted).to.not.equal(after);
    expect(reverted).to.not.equal(stoppedOn);
    expect(await hasPattern(reverted, P.C[0], P.C[1], KiB)).to.equal(true);
    expect(await hasPattern(reverted, P.A[0], P.A[1], KiB)).to.equal(true);
    expect(await hasPattern(after, P.Q[0], P.Q[1], KiB), 'the later branch is kept').to.equal(true);
  });

  it('saves the UEFI variable store (NVRAM) with a checkpoint and puts it back on revert, though it changed in between', async () => {
    // The stopped instance gets OVMF firmware with its own variable store (Debian's ovmf package).
    const store = path.join(dir, 'nvram', `${instance}_VARS.fd`);
    fs.mkdirSync(path.dirname(store), { mode: 0o755 });
    fs.copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', store);
    const firmware = `<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader><nvram>${store}</nvram></os>`;
    const inactive = await conn.getXmlDesc(dom, DomainXmlFlags.SECURE | DomainXmlFlags.INACTIVE);
    // UEFI on x86 needs ACPI in the definition (libvirt refuses it otherwise); the guest stays stopped here.
    const withAcpi = inactive.includes('<acpi/>') ? inactive : inactive.replace('</os>', '</os><features><acpi/></features>');
    dom = await conn.defineXml(withAcpi.replace('</os>', firmware));
    expect(nvramPathOf(await conn.getXmlDesc(dom, DomainXmlFlags.INACTIVE)), 'libvirt keeps the store in the definition').to.equal(store);
    const atCheckpoint = fs.readFileSync(store);

    const n1 = await takeCheckpoint(deps, { instanceUuid: instance, name: 'n1' });
    expect(n1.nvram).to.deep.include({ path: store, size: atCheckpoint.length });
    const saved = path.join(checkpointPaths(dir, instance, n1.id).dir, NVRAM_FILE);
    expect(fs.readFileSync(saved).equals(atCheckpoint), 'the store saved with the checkpoint').to.equal(true);
    expect(fs.statSync(saved).mode & 0o777).to.equal(0o600);

    // The store changes while the guest is stopped (as a variable set from the guest would).
    const changed = Buffer.from(atCheckpoint);
    changed.write('qcowshare variable changed after the checkpoint', 0x1000, 'latin1');
    fs.writeFileSync(store, changed);
    const activeBefore = await activeFile('vdb');

    // A saved copy replaced on the share is refused before anything changes.
    fs.writeFileSync(saved, changed, { mode: 0o600 });
    const err = await revertCheckpoint(deps, instance, n1.id).then(() => null, (e: unknown) => e);
    expect(isStorageError(err, 'CHECKPOINT_DEFINITION_UNSAFE'), String(err)).to.equal(true);
    expect(fs.readFileSync(store).equals(changed), 'the store untouched by the refused revert').to.equal(true);
    expect(await activeFile('vdb')).to.equal(activeBefore);
    fs.writeFileSync(saved, atCheckpoint, { mode: 0o600 });

    await revertCheckpoint(deps, instance, n1.id);
    expect(fs.readFileSync(store).equals(atCheckpoint), 'the store as at the checkpoint').to.equal(true);
    expect((await conn.getState(dom)).state).to.equal(DomainState.SHUTOFF);
    expect(nvramPathOf(await conn.getXmlDesc(dom, DomainXmlFlags.INACTIVE))).to.equal(store);
    expect(fs.existsSync(path.join(dir, 'checkpoints', instance, NVRAM_PREVIOUS_FILE)), 'the kept copy goes once the revert ended').to.equal(false);
  });
});
