/**
 * The RemoteFS driver's online path for ATTACHED volumes, against a fake coordinator (an HTTP
 * server shaped after coordinator/http and coordinator/disk-ops: same routes, bodies and error
 * shape) and the real driver on a local share. What is checked: which requests the driver sends
 * (explicit plans, auth token), the info file after each outcome, and the failure cases
 * (refusal before the commit point, guest running for a revert).
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { pino } from 'pino';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { FileLeaseManager } from '../../../../lib/core/file-lease.js';
import { loadDriver } from '../../../../drivers/contract/registry.js';
import type { VolumeDriver, VolumeRef } from '../../../../drivers/contract/volume-driver.js';

const TOKEN = `svc-${randomUUID()}`;

interface FakeState {
  running: boolean;
  chain: string[];
  requests: { method: string; path: string; body: Record<string, unknown>; token?: string }[];
  refuseNext?: { status: number; code: string };
}

function fakeCoordinator(state: FakeState): express.Express {
  const app = express();
  app.use(express.json());
  const jobs = new Map<string, { id: string; state: string; progress: number }>();
  app.use((req, res, next) => {
    state.requests.push({ method: req.method, path: req.path, body: req.body ?? {}, token: req.get('x-auth-token') });
    if (req.get('x-auth-token') !== TOKEN) return void res.status(403).json({ error: { code: 'FORBIDDEN', message: 'token' } });
    const refuse = state.refuseNext;
    if (refuse && req.method !== 'GET') {
      state.refuseNext = undefined;
      return void res.status(refuse.status).json({ error: { code: refuse.code, message: 'refused by the fake' } });
    }
    next();
  });
  app.get('/v1/instances/:i/volumes/:v/disk', (req, res) => {
    res.json({ disk: { instance_uuid: req.params.i, volume_id: req.params.v, running: state.running, target: 'vdb', chain: state.chain, format: 'qcow2' } });
  });
  app.post('/v1/snapshots', (req, res) => {
    state.chain = [req.body.new_file, ...state.chain];
    jobs.set(req.body.operation_id, { id: req.body.operation_id, state: 'completed', progress: 100 });
    res.status(202).json({ job: jobs.get(req.body.operation_id) });
  });
  app.post('/v1/merges', (req, res) => {
    state.chain = req.body.result_chain;
    jobs.set(req.body.operation_id, { id: req.body.operation_id, state: 'completed', progress: 100 });
    res.status(202).json({ job: jobs.get(req.body.operation_id) });
  });
  app.get('/v1/jobs/:id', (req, res) => { res.json({ job: jobs.get(req.params.id) }); });
  app.put('/v1/instances/:i/volumes/:v/source', (req, res) => {
    state.chain = [req.body.file];
    res.json({ disk: {} });
  });
  app.post('/v1/instances/:i/volumes/:v/resize', (_req, res) => { res.json({ disk: {} }); });
  return app;
}

describe('RemoteFS driver: attached volumes go to the coordinator (fake coordinator, local share)', function () {
  this.timeout(60_000);
  let scratch: string;
  let share: string;
  let driver: VolumeDriver;
  let server: Server;
  let endpoint: string;
  const state: FakeState = { running: true, chain: [], requests: [] };

  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'online-routing-'));
    share = path.join(scratch, 'share');
    const config = parseServiceConfig({
      log: { level: 'silent' },
      storage: { shares: [{ type: 'local', address: share }], mountBase: path.join(scratch, 'mnt'), leaseDir: path.join(scratch, 'leases'), fileOwner: null },
    });
    // The registry of compute hosts as the driver sees it: h1 is the fake coordinator, with TOKEN as its credential.
    const coordinators = {
      lookup: async (host: string) => {
        if (host !== 'h1') throw Object.assign(new Error(`compute host ${host} is not registered`), { code: 'COMPUTE_HOST_UNKNOWN', details: {} });
        return { endpoint, credential: TOKEN };
      },
    };
    driver = await loadDriver({ config, leases: new FileLeaseManager(config.storage.leaseDir), logger: pino({ level: 'silent' }), holderId: 'unit', coordinators });
    await driver.doSetup();
    server = await new Promise((resolve) => { const s = fakeCoordinator(state).listen(0, '127.0.0.1', () => resolve(s)); });
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => server?.close(r));
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const info = async (vid: string) => JSON.parse(await readFile(path.join(share, `volume-${vid}.info`), 'utf8'));
  const exists = (name: string) => access(path.join(share, name)).then(() => true, () => false);

  async function attachedVolume(): Promise<VolumeRef> {
    const id = randomUUID();
    const created = await driver.createVolume({ id, sizeGiB: 1 });
    state.chain = [`volume-${id}`];
    state.requests = [];
    state.running = true;
    return {
      id, sizeGiB: 1, providerLocation: created.providerLocation,
      // The recorded endpoint is a decoy: the driver must call the registered one.
      attachment: { instanceUuid: randomUUID(), host: 'h1', coordinatorEndpoint: 'http://127.0.0.1:1', activeFile: `volume-${id}`, format: 'qcow2' },
    };
  }

  async function codeOf(p: Promise<unknown>): Promise<{ code: string; details: Record<string, unknown> }> {
    try {
      await p;
    } catch (err) {
      // Duck-typed: the registry loads the driver as its own module graph, so instanceof fails.
      const e = err as { code?: string; details?: Record<string, unknown> };
      if (typeof e.code === 'string') return { code: e.code, details: e.details ?? {} };
      throw err;
    }
    throw new Error('expected a refusal');
  }

  it('create: overlay + intent, the explicit plan with the service token, then one info write', async () => {
    const vol = await attachedVolume();
    const sid = randomUUID();
    const r = await driver.createSnapshot({ id: sid, volumeId: vol.id }, vol);
    expect(r.activeFile).to.equal(`volume-${vol.id}.${sid}`);
    const plan = state.requests.find((q) => q.path === '/v1/snapshots');
    expect(plan?.body).to.include({ volume_id: vol.id, snapshot_id: sid, new_file: r.activeFile, expected_top: `volume-${vol.id}` });
    expect(state.requests.every((q) => q.token === TOKEN)).to.equal(true);
    const t = await info(vol.id);
    expect(t.active).to.equal(r.activeFile);
    expect(t.qcowshare.intent).to.equal(null);
  });

  it('create refused by the coordinator (PLAN_MISMATCH): the overlay is abandoned, the tree unchanged', async () => {
    const vol = await attachedVolume();
    const sid = randomUUID();
    state.refuseNext = { status: 409, code: 'PLAN_MISMATCH' };
    expect((await codeOf(driver.createSnapshot({ id: sid, volumeId: vol.id }, vol))).code).to.equal('PLAN_MISMATCH');
    const t = await info(vol.id);
    expect(t.active).to.equal(`volume-${vol.id}`);
    expect(t.qcowshare.intent).to.equal(null);
    expect(await exists(`volume-${vol.id}.${sid}`)).to.equal(false);
  });

  it('delete of the snapshot under the active file: a live merge plan over the live chain, then the victim unlinked', async () => {
    const vol = await attachedVolume();
    const sid = randomUUID();
    const overlay = `volume-${vol.id}.${sid}`;
    await driver.createSnapshot({ id: sid, volumeId: vol.id }, vol);
    const r = await driver.deleteSnapshot({ id: sid, volumeId: vol.id }, vol);
    const merge = state.requests.find((q) => q.path === '/v1/merges')?.body as Record<string, unknown>;
    expect(merge.expected_chain).to.deep.equal([overlay, `volume-${vol.id}`]);
    expect(['pull', 'active_commit']).to.include(merge.operation);
    const survivor = merge.operation === 'pull' ? overlay : `volume-${vol.id}`;
    expect(merge.result_chain).to.deep.equal([survivor]);
    expect(r.active?.file).to.equal(survivor);
    const t = await info(vol.id);
    expect(t.active).to.equal(survivor);
    expect(Object.keys(t.qcowshare.snapshots)).to.deep.equal([]);
    expect(await exists(merge.operation === 'pull' ? `volume-${vol.id}` : overlay)).to.equal(false);
  });

  it('revert is refused while the guest runs (GUEST_RUNNING); stopped, the definition follows the new file', async () => {
    const vol = await attachedVolume();
    const sid = randomUUID();
    await driver.createSnapshot({ id: sid, volumeId: vol.id }, vol);
    const refused = await codeOf(driver.revertToSnapshot(vol, { id: sid, volumeId: vol.id }));
    expect(refused).to.deep.include({ code: 'INVALID_STATE' });
    expect(refused.details.reason).to.equal('GUEST_RUNNING');
    expect((await info(vol.id)).active).to.equal(`volume-${vol.id}.${sid}`);

    state.running = false;
    const r = await driver.revertToSnapshot(vol, { id: sid, volumeId: vol.id });
    const put = state.requests.find((q) => q.method === 'PUT')?.body;
    expect(put?.expected_file).to.equal(`volume-${vol.id}.${sid}`);
    expect(r.active?.file).to.equal(put?.file);
    const t = await info(vol.id);
    expect(t.active).to.equal(put?.file);
    expect(await exists(`volume-${vol.id}.${sid}`)).to.equal(false);
  });

  it('extend of a running guest: live resize request, then the info file records the size', async () => {
    const vol = await attachedVolume();
    await driver.extendVolume(vol, 2);
    const resize = state.requests.find((q) => q.path.endsWith('/resize'));
    expect(resize?.body).to.deep.equal({ size_bytes: 2 * 1024 ** 3 });
    expect((await info(vol.id)).qcowshare.sizeBytes).to.equal(2 * 1024 ** 3);
  });
});
