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
import type { DomainRef, LibvirtConnection } from '../../../../lib/libvirt/index.js';
import { createDisk, createOverlay, execInGuest, guestImage, guestXml, hasPattern, openTestConnection } from '../../../fixtures/guest/index.js';
import { removeSuiteDomain, waitForDomainAgent } from '../../../fixtures/guest/suite-domain.js';
import { makeRunDir } from '../../../fixtures/guest/paths.js';
import { BACKENDS, TOKENS, auth, eventually, testServiceHooks } from '../../../fixtures/api/harness.js';
import { jsonOf, runCli, runCliOnTerminal } from '../../../fixtures/cli/spawn-cli.js';
import { createVolume, waitVolume } from '../../../fixtures/api/helpers.js';
import { guestVolumeBytes } from '../../../fixtures/guest/volume-bytes.js';
import { requestGate } from '../../../fixtures/console/request-gate.js';
import { CHROMIUM, openBrowser, screenshot } from '../../../fixtures/console/browser.js';

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
  // The console's check (last test): a take held on its way to the host while the page shows it.
  let consoleCheckpoint = '';
  const takeGate = requestGate((req) => req.method === 'POST' && /^\/v1\/instances\/[^/]+\/checkpoints\/?$/.test(req.path));

  const exec = (script: string) => execInGuest(conn, dom, script);
  const bytes = guestVolumeBytes(exec, () => vol, KiB);
  const { write } = bytes;
  const guestHas = bytes.has;
  async function activeFile(): Promise<string> {
    return parseDomainXml(await conn.getXmlDesc(dom)).disks.find((x) => x.target === 'vdb')?.chain[0]?.path as string;
  }
  const waitForAgent = () => waitForDomainAgent(conn, dom);
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
    server = express().use(takeGate.middleware, withCheckpointRoutes(express(), deps, new KeyedMutex(), token, logger('test'))).listen(0, '127.0.0.1');
    await new Promise((r) => server?.once('listening', r));
    await t.http.put('/v3/os-compute-hosts/ckapi-host').set(auth('admin'))
      .send({ compute_host: { coordinator_endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, credential: token } }).expect(201);
    await t.http.post(`/v3/volumes/${vol}/action`).set(auth('alice')).send({ 'os-attach': { instance_uuid: instance, mountpoint: '/dev/vdb', host_name: 'ckapi-host' } }).expect(202);
    await waitVolume(t, vol, 'in-use');
  });

  after(async function () {
    this.timeout(60_000);
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await removeSuiteDomain(conn, dom);
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
  // Issue 18: the web console with a real checkpoint. Its take is held by the gate on its way to
  // the host until the operations page has shown it in progress; then the live table (no reload)
  // shows it end; the volume's page lists it with the point the API names, and the tree picture
  // draws its group around exactly the tree's points the API lists for it (its snapshot_ids, or
  // the node owning its snapshot_point file), whatever the tree holds.
  it('the console shows the take in progress, its end live, and the checkpoint on its volume\'s page as the API lists it', async () => {
    await fs.promises.access(CHROMIUM);
    const browser = await openBrowser();
    const page = browser.page;
    const base = t.svc.url;
    try {
      await page.goto(`${base}/console/login`);
      await page.fill('#token', 'alice');
      await Promise.all([page.waitForURL(`${base}/console/volumes`), page.click('button[type=submit]')]);
      takeGate.arm();
      const r = await t.http.post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name: 'c2' } }).expect(202);
      const id = r.body.checkpoint.id as string;
      consoleCheckpoint = id;
      await eventually(async () => (takeGate.held() > 0 ? true : undefined), 60_000);
      await page.goto(`${base}/console/operations`);
      const row = `table[data-live="checkpoints"] tr[data-checkpoint-id="${id}"]`;
      const shown = () => page.$eval(row, (e) => ({ state: e.getAttribute('data-state'), value: Number(e.querySelector('progress')?.getAttribute('value') ?? 'NaN') }));
      const held = await status(id);
      expect(held?.status).to.equal('creating');
      expect(await shown()).to.deep.equal({ state: 'creating', value: Number.parseInt(String(held?.progress), 10) });
      await screenshot(page, 'checkpoint-take-running');
      // Marks this document: if the page were reloaded, the mark would be gone.
      await page.evaluate(() => document.body.setAttribute('data-test-mark', 'same-page'));
      takeGate.release();
      const end = await eventually(async () => {
        const cur = await shown();
        return cur.state !== 'creating' ? cur : undefined;
      }, 300_000);
      expect(end).to.deep.equal({ state: 'available', value: 100 });
      expect(await page.getAttribute('body', 'data-test-mark')).to.equal('same-page');
      const c2 = await status(id);
      expect(c2?.status).to.equal('available');

      // The volume's page: the checkpoint listed with this volume's point, and the picture's group.
      const member = (c2?.volumes as { volume_id: string; snapshot_point: string; snapshot_id: string | null }[]).find((m) => m.volume_id === vol);
      expect(member, 'the checkpoint names this volume').to.not.equal(undefined);
      await page.goto(`${base}/console/volumes/${vol}`);
      const listed = `table.checkpoints tr[data-checkpoint-id="${id}"]`;
      expect(await page.textContent(`${listed} code`)).to.equal(member?.snapshot_point);
      const tree = (await t.http.get(`/v3/volumes/${vol}/tree`).set(auth('alice')).expect(200)).body.tree as { snapshots: { id: string; owned_file: string }[] };
      const ids = new Set(c2?.snapshot_ids as string[]);
      const want = tree.snapshots.filter((s) => ids.has(s.id) || s.owned_file === member?.snapshot_point).map((s) => s.id).sort();
      const group = `svg.tree g.checkpoint[data-checkpoint-id="${id}"]`;
      const drawn = await page.locator(group).count() === 0 ? [] : ((await page.getAttribute(group, 'data-members')) ?? '').split(' ').filter(Boolean).sort();
      expect(drawn, 'the group holds the points the API lists for the checkpoint').to.deep.equal(want);
      expect(((await page.getAttribute(listed, 'data-drawn')) ?? '').split(' ').filter(Boolean).sort()).to.deep.equal(want);
      // Drawn around them: each member's box lies inside the group's box.
      const box = await page.locator(`${group} rect`).first().boundingBox().catch(() => null);
      for (const m of want) {
        const n = await page.locator(`svg.tree [data-node-id="${m}"] rect`).boundingBox();
        expect(box && n && n.x >= box.x && n.y >= box.y && n.x + n.width <= box.x + box.width && n.y + n.height <= box.y + box.height, m).to.equal(true);
      }
      await screenshot(page, 'checkpoint-volume');
    } finally {
      takeGate.release();
      await browser.close();
    }
  });
  // Issue 18, the CLI: a checkpoint's exact name where its id goes (the process, the real service
  // and coordinator); a name two checkpoints share is refused listing both, nothing deleted.
  it('the CLI takes the checkpoint\'s name for its id, refuses an ambiguous one, and deletes by name', async () => {
    const id = consoleCheckpoint;
    if (id === '') throw new Error('the console test above took no checkpoint');
    const cli = (...args: string[]) => runCli(args, { QCS_URL: t.svc.url, QCS_TOKEN: 'alice' });
    expect(jsonOf<{ checkpoint: { id: string } }>(await cli('--json', 'checkpoint', 'show', 'c2')).checkpoint.id).to.equal(id);
    // A second row of that name, as a failed take leaves one.
    const twin = randomUUID();
    await t.svc.deps.repos.checkpoints.insert({
      id: twin, projectId: TOKENS.alice.projectId, instanceUuid: instance, hostName: 'ckapi-host', name: 'c2', description: null,
      mode: 'consistent', status: 'error', memorySize: null, definitionSha256: null, volumes: [],
    });
    try {
      const r = await cli('--json', 'checkpoint', 'delete', 'c2', '--wait');
      expect(r.code).to.equal(2);
      const err = (JSON.parse(r.stderr) as { error: { code: string; details?: { candidates?: { id: string }[] } } }).error;
      expect(err.code).to.equal('NAME_AMBIGUOUS');
      expect(err.details?.candidates?.map((c) => c.id).sort()).to.deep.equal([id, twin].sort());
      expect((await status(id))?.status).to.equal('available');
    } finally {
      await t.svc.deps.repos.checkpoints.remove(twin);
    }
    const gone = await cli('--json', 'checkpoint', 'delete', 'c2', '--wait');
    expect(gone.code, gone.stderr).to.equal(0);
    expect(await t.svc.deps.repos.checkpoints.get(id)).to.equal(null);
  });
  // Issue 18, the CLI on a terminal: `checkpoint create --wait` redraws one line with the row's
  // status and progress while the host works (the take held by the gate until the line is on
  // the terminal), erases it at the end and prints the end state once; `delete --wait` likewise.
  it('the CLI\'s --wait on a terminal shows the take in progress, then ends cleanly with the end state once', async () => {
    /** What the terminal shows at the end: a \\r returns to the line's start, ESC[K there erases the line. */
    const ERASE = '\u001b[K';
    const screen = (raw: string) => raw.split('\n').map((line) => line.replace(/\r$/, '').split('\r').reduce((shown, part) => {
      const text = part.split(ERASE).join('');
      return part.startsWith(ERASE) ? text : text + shown.slice(text.length);
    }, '')).join('\n');
    const env = { QCS_URL: t.svc.url, QCS_TOKEN: 'alice' };
    takeGate.arm();
    let drawn = false;
    const run = runCliOnTerminal(['checkpoint', 'create', instance, '--name', 'c3', '--wait'], env, '', (out) => {
      if (!drawn && /checkpoint c3 creating \[\.+\] \d+%/.test(out)) { drawn = true; takeGate.release(); }
    });
    // A deadline, not a wait: a CLI that never draws the line must not hold the take for ever.
    const deadline = setTimeout(() => takeGate.release(), 120_000);
    const done = await run.finally(() => { clearTimeout(deadline); takeGate.release(); });
    expect(drawn, done.stdout).to.equal(true);
    expect(done.code, done.stdout).to.equal(0);
    const shown = screen(done.stdout);
    expect(shown).to.not.include('creating');
    expect(shown.match(/ c3 +available/g), shown).to.have.length(1);
    const gone = await runCliOnTerminal(['checkpoint', 'delete', 'c3', '--wait'], env, '');
    expect(gone.code, gone.stdout).to.equal(0);
    const lines = screen(gone.stdout).split('\n').map((l) => l.trim()).filter((l) => l !== '');
    expect(lines, gone.stdout).to.have.length(1);
    expect(lines[0]).to.match(/^deleted [0-9a-f-]{36}$/);
    expect((await t.http.get('/v3/os-checkpoints').set(auth('alice')).expect(200)).body.checkpoints.map((c: { name: string }) => c.name)).to.not.include('c3');
  });
});
