/**
 * Export of an ATTACHED volume on the real components (issue 15 item 1): libvirtd and a booted
 * TCG guest running qemu-guest-agent, the volume on a real GlusterFS volume, the storage service
 * (real RemoteFS driver) on MariaDB and the coordinator (attached-stack.ts).
 *
 * The export reads the tree as at a hidden temporary snapshot taken live through the coordinator,
 * never the file the guest writes, and merges the temporary snapshot away after the last byte.
 * The archive is held at the driver boundary while the guest writes more: the archive has the
 * data written before the export (and the user's snapshot with its own point), nothing written
 * during it; imported as a new volume, every point reads back with qemu-io; the guest keeps every
 * write and its chain is back to its depth.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import type supertest from 'supertest';
import type { RunningService } from '../../src/api/server.js';
import { guestHasPattern, type TestGuest } from '../fixtures/guest/index.js';
import { until } from '../fixtures/until.js';
import { K64, attachToGuest, attachedTokens, stackReads, startAttachedStack, type AttachedStack } from '../fixtures/e2e/attached-stack.js';
import { binary } from '../fixtures/binary-body.js';

const CALLERS = attachedTokens();
type Tree = { active_file: string; snapshots: { id: string; name: string | null; owned_file: string }[] };

describe('export of an attached volume: API + coordinator + libvirtd guest + GlusterFS + MariaDB', function () {
  this.timeout(600_000);
  let stack: AttachedStack;
  let svc: RunningService;
  let guest: TestGuest;
  let api: ReturnType<typeof supertest>;
  const src = { id: '', target: '' };

  before(async () => {
    stack = await startAttachedStack({ prefix: 'export', tokens: CALLERS.tokens, serviceToken: CALLERS.serviceToken });
    ({ svc, guest, api } = stack);
  });

  after(async () => { await stack?.stop(); });

  const { as, info, hostRead, volumeOf, allSnapshots, liveChain } = stackReads(() => stack, CALLERS);
  const dir = () => stack.storageDir;
  const tree = async (vid: string) => (await api.get(`/v3/volumes/${vid}/tree`).set(as('admin')).expect(200)).body.tree as Tree;

  it('attaches a volume to the RUNNING guest; the guest writes A, a snapshot s1 is taken live, the guest writes B', async () => {
    const r = await api.post('/v3/volumes').set(as('alice')).send({ volume: { size: 1, name: `export-src-${randomUUID().slice(0, 8)}` } });
    expect(r.status, JSON.stringify(r.body)).to.equal(202);
    src.id = r.body.volume.id as string;
    await until('source available', async () => ((await volumeOf(src.id))?.status === 'available' ? true : undefined));
    src.target = await attachToGuest(stack, src.id);
    await guest.writeBlockPattern(src.target, 0xa1, 0, 64);
    const s = await api.post('/v3/snapshots').set(as('alice')).send({ snapshot: { volume_id: src.id, name: 's1', force: true } });
    expect(s.status, JSON.stringify(s.body)).to.equal(202);
    await until('s1 available', async () => {
      const st = (await api.get(`/v3/snapshots/${String(s.body.snapshot.id)}`).set(as('alice'))).body.snapshot?.status as string | undefined;
      if (st === 'error') throw new Error('s1 went to error');
      return st === 'available' ? true : undefined;
    });
    await guest.writeBlockPattern(src.target, 0xb2, 64, 64);
    expect(await liveChain(src.id)).to.have.length(2);
  });

  let archive: Buffer;

  it('exports through a temporary snapshot while the guest writes C: the archive has A and B, not C; nothing left behind', async () => {
    // The archive is held at the driver boundary once the temporary snapshot is taken: C is
    // written WHILE the export runs, before any byte of the tree is read.
    const driver = svc.deps.driver as unknown as { openExport: (...args: unknown[]) => Promise<unknown> };
    const real = driver.openExport.bind(driver);
    let reached = false;
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { openGate = resolve; });
    driver.openExport = async (...args: unknown[]) => { reached = true; await gate; return real(...args); };
    let pending: Promise<supertest.Response> | undefined;
    try {
      pending = api.get(`/v3/volumes/${src.id}/os-export`).set(as('alice')).buffer(true).parse(binary).then((res) => res);
      await until('the export reached the driver', async () => (reached ? true : undefined));
      const tmp = (await allSnapshots(src.id)).find((x) => x.name !== 's1');
      expect(tmp?.hidden).to.equal(true);
      expect(tmp?.metadata).to.include({ 'qcowshare:temporary': 'export' });
      // The guest runs on the temporary snapshot's overlay; every file below it is frozen.
      expect(await liveChain(src.id)).to.have.length(3);
      expect((await liveChain(src.id))?.[0]).to.equal(`volume-${src.id}.${String(tmp?.id)}`);
      await guest.writeBlockPattern(src.target, 0xc3, 128, 64);
    } finally {
      openGate();
      delete (driver as unknown as Record<string, unknown>).openExport;
    }
    const res = await pending;
    expect(res.status, String(res.text)).to.equal(200);
    archive = res.body as Buffer;
    expect(Number(res.headers['content-length'])).to.equal(archive.length);

    // The source: the temporary snapshot merged away live, s1 kept, the guest has every write.
    await until('temporary snapshot gone', async () => ((await allSnapshots(src.id)).length === 1 ? true : undefined));
    expect((await allSnapshots(src.id)).map((x) => x.name)).to.deep.equal(['s1']);
    const t = await info(src.id);
    expect(t.qcowshare.intent).to.equal(null);
    expect(await liveChain(src.id)).to.have.length(2);
    expect((await liveChain(src.id))?.[0]).to.equal(t.active);
    expect((await volumeOf(src.id))?.status).to.equal('in-use');
    expect(await guestHasPattern(guest, src.target, 0xa1, 0)).to.equal(true);
    expect(await guestHasPattern(guest, src.target, 0xb2, K64)).to.equal(true);
    expect(await guestHasPattern(guest, src.target, 0xc3, 2 * K64)).to.equal(true);
    await hostRead(t.active as string, [`read -P 0xc3 ${2 * K64} ${K64}`]);
    const ops = (await api.get(`/v3/operations?volume_id=${src.id}`).set(as('alice')).expect(200)).body.operations as { kind: string; state: string }[];
    expect(ops.filter((o) => o.kind === 'clone_source').map((o) => o.state)).to.deep.equal(['succeeded']);
    expect((await readdir(dir())).filter((f) => f.startsWith(`volume-${src.id}`) && f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('the archive imports as a new volume: s1 reads A only, the active file A and B, nothing of C', async () => {
    const r = await api.post('/v3/os-volume-import').query({ name: 'from-attached' }).set(as('alice')).set('content-type', 'application/x-tar').send(archive);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const copy = r.body.volume.id as string;
    const t = await tree(copy);
    expect(t.snapshots.map((x) => x.name)).to.deep.equal(['s1']);
    const s1 = t.snapshots[0]!;
    await hostRead(s1.owned_file, [`read -P 0xa1 0 ${K64}`, `read -P 0 ${K64} ${2 * K64}`]);
    await hostRead(t.active_file, [`read -P 0xa1 0 ${K64}`, `read -P 0xb2 ${K64} ${K64}`, `read -P 0 ${2 * K64} ${K64}`]);
  });

  it('exports the attached volume to a file on the share (admin operation) that imports with every write so far', async () => {
    await guest.writeBlockPattern(src.target, 0xd4, 192, 64);
    const r = await api.post(`/v3/volumes/${src.id}/action`).set(as('admin')).send({ 'os-export-to-share': { share: stack.gv.address, name: 'attached.tar' } });
    expect(r.status, JSON.stringify(r.body)).to.equal(202);
    const op = await until('export operation ended', async () => {
      const o = (await api.get(`/v3/operations/${String(r.headers['x-operation-id'])}`).set(as('admin'))).body.operation as { state: string; error: string | null } | undefined;
      return o && o.state !== 'running' ? o : undefined;
    });
    expect(op.state, op.error ?? '').to.equal('succeeded');
    await until('temporary snapshot gone', async () => ((await allSnapshots(src.id)).length === 1 ? true : undefined));
    const imp = await api.post('/v3/os-volume-import-from-share').set(as('admin')).send({ import: { share: stack.gv.address, file: 'attached.tar' } });
    expect(imp.status, JSON.stringify(imp.body)).to.equal(202);
    const impOp = await until('import operation ended', async () => {
      const o = (await api.get(`/v3/operations/${String(imp.headers['x-operation-id'])}`).set(as('admin'))).body.operation as { state: string; error: string | null; volume_id: string } | undefined;
      return o && o.state !== 'running' ? o : undefined;
    });
    expect(impOp.state, impOp.error ?? '').to.equal('succeeded');
    const t = await tree(impOp.volume_id);
    await hostRead(t.active_file, [`read -P 0xa1 0 ${K64}`, `read -P 0xb2 ${K64} ${K64}`, `read -P 0xc3 ${2 * K64} ${K64}`, `read -P 0xd4 ${3 * K64} ${K64}`]);
    expect(await liveChain(src.id)).to.have.length(2);
    expect(await guestHasPattern(guest, src.target, 0xd4, 3 * K64)).to.equal(true);
  });
});
