/**
 * os-checkpoints end to end on the real thing: the storage service (SQLite; volume rows through
 * its API, attachments naming the instance and a registered host) calls the real coordinator
 * checkpoint routes (coordinator/checkpoint) of a booted guest on libvirtd, with the credential of
 * the registry. Take c1, change RAM and disk, revert c1 through the API: the guest runs with c1's
 * RAM and c1's bytes (checked in the guest and with qemu-io on the host); delete. The volume files
 * are named by the volume rows' ids, as the product names them.
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
import type { CheckpointDeps } from '../../../../coordinator/checkpoint/runner.js';
import { parseDomainXml } from '../../../../coordinator/domain/disks.js';
import { UndefineFlags, type DomainRef, type LibvirtConnection } from '../../../../lib/libvirt/index.js';
import { createDisk, createOverlay, execInGuest, guestImage, guestXml, hasPattern, openTestConnection } from '../../../fixtures/guest/index.js';
import { makeRunDir } from '../../../fixtures/guest/paths.js';
import { BACKENDS, auth, eventually, testServiceHooks } from '../../../fixtures/api/harness.js';
import { createVolume, waitVolume } from '../../../fixtures/api/helpers.js';
import { guestVolumeBytes } from '../../../fixtures/guest/volume-bytes.js';

const KiB = 256;

describe('os-checkpoints through the storage service against the real coordinator and a booted guest', function () {
  this.timeout(600_000);
  const t = testServiceHooks(BACKENDS[0] as (typeof BACKENDS)[number]);
  const instance = randomUUID();
  const token = `inbound-${randomUUID()}`;
  let conn: LibvirtConnection;
  let dom: DomainRef;
  let dir: string;
  let server: ReturnType<ReturnType<typeof express>['listen']> | undefined;
  let vol = '';

  const exec = (script: string) => execInGuest(conn, dom, script);
  const bytes = guestVolumeBytes(exec, () => vol, KiB);
  const { write } = bytes;
  const guestHas = bytes.has;
  async function activeFile(): Promise<string> {
    return parseDomainXml(await conn.getXmlDesc(dom)).disks.find((x) => x.target === 'vdb')?.chain[0]?.path as string;
  }
  async function waitForAgent(): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      try { await conn.agent(dom, 'guest-ping', undefined, 2); return; } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  const status = async (id: string) => (await t.http.get(`/v3/os-checkpoints/${id}`).set(auth('alice'))).body.checkpoint as Record<string, unknown> | undefined;

  before(async function () {
    this.timeout(300_000);
    vol = await createVolume(t, 'alice');
    await waitVolume(t, vol, 'available');
    conn = await openTestConnection();
    dir = makeRunDir('ckapi');
    const vols = path.join(dir, 'vols');
    fs.mkdirSync(vols, { mode: 0o755 });
    const image = await guestImage();
    const disks = [{ target: 'vdb', serial: vol, file: await createDisk(vols, `volume-${vol}`, 64 << 20, 'blank') }];
    const xml = guestXml({ name: `ckapi-${instance.slice(0, 8)}`, ...image, disks, agent: true, consoleLog: path.join(dir, 'console.log') })
      .replace('<name>', `<uuid>${instance}</uuid><name>`);
    dom = await conn.create(await conn.defineXml(xml));
    await waitForAgent();
    const deps: CheckpointDeps = { libvirt: conn, shareMount: dir, makeOverlay: async (d, backing, overlay, size) => { await createOverlay(d, backing, overlay, size); } };
    server = withCheckpointRoutes(express(), deps, new KeyedMutex(), token, logger('test')).listen(0, '127.0.0.1');
    await new Promise((r) => server?.once('listening', r));
    await t.http.put('/v3/os-compute-hosts/ckapi-host').set(auth('admin'))
      .send({ compute_host: { coordinator_endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, credential: token } }).expect(201);
    await t.http.post(`/v3/volumes/${vol}/action`).set(auth('alice')).send({ 'os-attach': { instance_uuid: instance, mountpoint: '/dev/vdb', host_name: 'ckapi-host' } }).expect(202);
    await waitVolume(t, vol, 'in-use');
  });

  after(async function () {
    this.timeout(60_000);
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    const c = conn?.connected ? conn : await openTestConnection();
    if (dom) {
      await c.destroy(dom).catch(() => undefined);
      await c.undefine(dom, UndefineFlags.SNAPSHOTS_METADATA).catch(() => undefined);
    }
    if (c !== conn) await c.close();
    await conn?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates, lists, reverts (RAM and bytes back) and deletes a checkpoint through the API', async () => {
    await exec('echo one > /ram-state');
    await write(0xa1);
    const r = await t.http.post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name: 'c1' } }).expect(202);
    const id = r.body.checkpoint.id as string;
    const c1 = await eventually(async () => {
      const s = await status(id);
      if (s?.status === 'error') throw new Error(`take failed: ${String(s.error)}`);
      return s?.status === 'available' ? s : undefined;
    }, 300_000);
    const members = c1.volumes as { volume_id: string; snapshot_point: string }[];
    expect(members.map((m) => m.volume_id)).to.deep.equal([vol]);
    expect(c1.memory_size).to.be.a('number').and.greaterThan(0);
    const point = path.join(dir, 'vols', members[0]?.snapshot_point as string);
    expect(await hasPattern(point, 0xa1, 0, KiB), 'the snapshot point holds c1\'s bytes').to.equal(true);
    expect((await t.http.get(`/v3/os-checkpoints?instance_uuid=${instance}`).set(auth('alice'))).body.checkpoints.map((c: { id: string }) => c.id)).to.deep.equal([id]);

    await exec('echo two > /ram-state');
    await write(0xb2);
    expect(await hasPattern(await activeFile(), 0xb2, 0, KiB)).to.equal(true);

    await t.http.post(`/v3/os-checkpoints/${id}/action`).set(auth('alice')).send({ revert: {} }).expect(202);
    await eventually(async () => {
      const s = await status(id);
      if (s?.status === 'error') throw new Error(`revert failed: ${String(s.error)}`);
      return s?.status === 'available' ? true : undefined;
    }, 300_000);
    dom = await conn.lookupByUuid(instance);
    await waitForAgent();
    expect((await exec('cat /ram-state')).trim()).to.equal('one');
    expect(await guestHas(0xa1)).to.equal(true);
    expect(await hasPattern(await activeFile(), 0xa1, 0, KiB), 'the new overlay reads c1\'s bytes').to.equal(true);
    expect(await hasPattern(point, 0xa1, 0, KiB)).to.equal(true);

    // The coordinator's own directory of it (named by the coordinator's id) goes with the delete.
    const remoteDir = path.join(dir, 'checkpoints', instance, String((await t.svc.deps.repos.checkpoints.get(id))?.coordinatorId));
    expect(fs.existsSync(remoteDir), remoteDir).to.equal(true);
    await t.http.delete(`/v3/os-checkpoints/${id}`).set(auth('alice')).expect(202);
    await eventually(async () => ((await t.svc.deps.repos.checkpoints.get(id)) === null ? true : undefined), 120_000);
    expect(fs.existsSync(remoteDir)).to.equal(false);
    expect((await exec('cat /ram-state')).trim()).to.equal('one');
  });
});
