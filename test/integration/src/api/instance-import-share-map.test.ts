/**
 * Instance import with a share per volume (issue 15 item 4: volume_share=<archived id>:<share>)
 * through the API with the real RemoteFS driver and real qemu-img, on SQLite and MariaDB, with
 * three shares: two local directories and a GlusterFS volume (mounted by the service at
 * <mountBase>/<hash>, another path than its address). An instance with two volumes on the first
 * share and a checkpoint is exported (its host a stand-in answering the definition route, as in
 * instance-export-import.test.ts), then imported with one volume on GlusterFS and the other on the
 * second share: each volume's rows, files, tree and bytes on its share, the checkpoint on the
 * default share with its record naming each share, and the imported volume on GlusterFS takes a
 * snapshot; the checker finds nothing amiss with the imported volumes. A wrong map (malformed, duplicate, unknown volume, unknown share) is refused with
 * IMPORT_SHARE_MAP_INVALID and leaves no row, operation or file on any share; an import a crash
 * interrupted is settled on every share it touched; the CLI's --volume-share sends the map.
 */
import { expect } from 'chai';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { settleInterruptedVolumeOps } from '../../../../src/api/usecases/interrupted-volume-ops.js';
import { buildProgram } from '../../../../src/cli/main.js';
import { cliAt } from '../../../fixtures/cli/in-process-cli.js';
import { mountPointFor } from '../../../../lib/core/share-hash.js';
import { verifyPattern, writePattern } from '../../../../lib/qemu/img.js';
import { parseRecord } from '../../../../coordinator/checkpoint/record.js';
import { shareListing } from '../../../fixtures/shares.js';
import { BACKENDS, apiWaits, auth, eventually, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import type { GlusterVolume } from '../../../fixtures/gluster.js';
import { binary } from '../../../fixtures/binary-body.js';
import { fakeSaveImage } from '../../../fixtures/export/save-image.js';
import { definitionInSaveImage } from '../../../../drivers/remotefs/export/memory-definition.js';

const MiB = 1024 * 1024;

/** The coordinator's definition route, answering a shut-off instance with `definition`. */
function standIn() {
  const answer = { definition: '' };
  const server = http.createServer((req, res) => {
    const m = /^\/v1\/instances\/([0-9a-f-]{36})\/definition$/.exec(req.url ?? '');
    res.writeHead(m ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(m ? { instance: { uuid: m[1], state: 'shutoff', definition: answer.definition } } : { error: { code: 'NOT_FOUND', message: 'no route' } }));
  });
  return { server, answer, url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

for (const backend of BACKENDS) {
  describe(`api: instance import with a share per volume (${backend.name}, two local shares and GlusterFS)`, function () {
    this.timeout(600_000);
    let dir: string;
    let svc: RunningService;
    let api: ReturnType<typeof supertest>;
    let gluster = undefined as unknown as GlusterVolume;
    remotefsServiceHooks(backend, 'qcs-instmap-', (s) => {
      ({ dir, svc, http: api } = s);
      gluster = s.gluster as GlusterVolume;
    }, { shares: ['share-a', 'share-b'], glusterfs: true });
    const waits = apiWaits(() => api);
    const coord = standIn();
    const [instance, cp] = [randomUUID(), randomUUID()];
    const targets = ['vdb', 'vdc'];
    const vols: string[] = [];
    const snaps: string[] = [];
    let archive: Buffer;
    let memory: Buffer;
    const address = (i: 0 | 1) => path.join(dir, i === 0 ? 'share-a' : 'share-b');
    /** Each share's directory on the service: a local one at its address, GlusterFS under the mount base. */
    const mounts = () => [address(0), address(1), mountPointFor(path.join(dir, 'mnt'), gluster.address)];
    const listings = () => Promise.all(mounts().map((m) => shareListing(m)));
    const tree = async (vid: string) => (await api.get(`/v3/volumes/${vid}/tree`).set(auth('admin')).expect(200)).body.tree as { active_file: string; snapshots: { id: string; owned_file: string }[] };
    const domain = (files: string[]) => `<domain type='kvm'><name>instmap</name><uuid>${instance}</uuid><memory unit='KiB'>65536</memory><os><type>hvm</type></os><devices>`
      + files.map((f, i) => `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${f}'/><target dev='${targets[i]}' bus='virtio'/><serial>${vols[i]}</serial></disk>`).join('')
      + '</devices></domain>\n';
    const codeOf = (r: { body: Record<string, { error_code?: string }> }) => Object.values(r.body)[0]?.error_code;
    const importArchive = (q: string) => api.post(`/v3/os-instance-import?${q}`).set(auth('admin')).set('content-type', 'application/x-tar').send(archive);
    const counts = async () => ({
      volumes: ((await api.get('/v3/volumes?all_tenants=1').set(auth('admin')).expect(200)).body.volumes as unknown[]).length,
      checkpoints: ((await api.get('/v3/os-checkpoints').set(auth('admin')).expect(200)).body.checkpoints as unknown[]).length,
      operations: await svc.deps.repos.operations.countByState(),
    });

    before(async () => {
      await new Promise<void>((resolve) => coord.server.listen(0, '127.0.0.1', resolve));
      await api.put('/v3/os-compute-hosts/mh1').set(auth('admin')).send({ compute_host: { coordinator_endpoint: coord.url(), credential: `instmap-${randomUUID()}` } }).expect(201);
      await api.post('/v3/types').set(auth('admin')).send({ volume_type: { name: 'on-a', extra_specs: { 'qcowshare:share': address(0) } } }).expect(200);
      for (const [i, target] of targets.entries()) {
        const v = (await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, volume_type: 'on-a' } }).expect(202)).body.volume.id as string;
        vols.push(v);
        await waits.settled('volumes', v, 'available');
        await writePattern(path.join(address(0), (await tree(v)).active_file), 'qcow2', 0x41 + i, 0, MiB);
        const s = (await api.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: v, metadata: { checkpoint_id: cp } } }).expect(202)).body.snapshot.id as string;
        snaps.push(s);
        await waits.settled('snapshots', s, 'available');
        await writePattern(path.join(address(0), (await tree(v)).active_file), 'qcow2', 0x51 + i, 4 * MiB, MiB);
        await api.post(`/v3/volumes/${v}/action`).set(auth('alice')).send({ 'os-attach': { instance_uuid: instance, mountpoint: `/dev/${target}`, host_name: 'mh1' } }).expect(202);
        await waits.settled('volumes', v, 'in-use');
      }
      const points: string[] = [];
      for (const [i, v] of vols.entries()) points.push(path.join(address(0), (await tree(v)).snapshots.find((x) => x.id === snaps[i])!.owned_file));
      const cpDir = path.join(address(0), 'checkpoints', instance, cp);
      await mkdir(cpDir, { recursive: true });
      memory = fakeSaveImage(domain(points), randomBytes(64 * 1024));
      await writeFile(path.join(cpDir, 'memory.save'), memory);
      await writeFile(path.join(cpDir, 'domain.xml'), domain(points));
      await writeFile(path.join(cpDir, 'checkpoint.json'), JSON.stringify({
        id: cp, instanceUuid: instance, name: 'c1', description: '', created: new Date().toISOString(), mode: 'consistent', quiesced: false, status: 'available',
        volumes: vols.map((v, i) => ({ volumeId: v, target: targets[i], snapshotPoint: points[i], sizeBytes: 1024 ** 3, snapshotId: snaps[i] })), excluded: [], memorySize: memory.length,
        definitionSha256: createHash('sha256').update(domain(points)).digest('hex'),
      }));
      const project = (await api.get(`/v3/volumes/${vols[0]}`).set(auth('admin')).expect(200)).body.volume['os-vol-tenant-attr:tenant_id'] as string;
      await svc.deps.repos.checkpoints.insert({
        id: cp, coordinatorId: cp, projectId: project, instanceUuid: instance, hostName: 'mh1', name: 'c1', description: null, mode: 'consistent', status: 'available',
        memorySize: memory.length, definitionSha256: 'a'.repeat(64), volumes: vols.map((v, i) => ({ volumeId: v, target: targets[i] as string, snapshotPoint: path.basename(points[i] as string), snapshotId: snaps[i] as string })),
      });
      const actives = [];
      for (const v of vols) actives.push(path.join(address(0), (await tree(v)).active_file));
      coord.answer.definition = domain(actives);
      const r = await api.get(`/v3/os-instances/${instance}/os-export`).set(auth('admin')).buffer(true).parse(binary);
      expect(r.status, String(r.body)).to.equal(200);
      archive = r.body as Buffer;
    });
    after(async () => { await new Promise((r) => coord.server.close(r)); });

    it('refuses a wrong map with IMPORT_SHARE_MAP_INVALID: no row, no operation, no file on any share', async () => {
      const cases: [string, string][] = [
        [`volume_share=${vols[0]}`, 'malformed'],
        [`volume_share=${vols[0]}:${encodeURIComponent(address(1))}&volume_share=${vols[0]}:${encodeURIComponent(gluster.address)}`, 'duplicate'],
        [`volume_share=${randomUUID()}:${encodeURIComponent(address(1))}`, 'unknown_volume'],
        [`volume_share=${vols[1]}:${encodeURIComponent(path.join(dir, 'share-c'))}`, 'unknown_share'],
        [`keep_ids=true&volume_share=${vols[1]}:${encodeURIComponent(`${address(1)}/`)}`, 'unknown_share'],
      ];
      const before = [await listings(), await counts()];
      for (const [q, reason] of cases) {
        const r = await importArchive(q);
        expect([r.status, codeOf(r), (Object.values(r.body)[0] as { reason?: string } | undefined)?.reason], `${q}: ${JSON.stringify(r.body)}`).to.deep.equal([400, 'IMPORT_SHARE_MAP_INVALID', reason]);
        expect([await listings(), await counts()], q).to.deep.equal(before);
      }
    });

    it('places each volume on its mapped share (GlusterFS, the second local one), the checkpoint on the default share; rows, trees, bytes and records agree', async () => {
      const mapped = [gluster.address, address(1)];
      const q = new URLSearchParams([['share', address(0)], ...vols.map((v, i) => ['volume_share', `${v}:${mapped[i]}`] as [string, string])]);
      const r = await importArchive(q.toString());
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      const got = r.body.instance_import as { instance_uuid: string; volumes: { id: string; source_id: string }[]; checkpoints: { id: string }[] };
      const dirs = [mounts()[2] as string, address(1)];
      const points: string[] = [];
      for (const [i, v] of vols.entries()) {
        const nv = got.volumes.find((x) => x.source_id === v)!.id;
        expect((await svc.deps.repos.volumes.get(nv))?.providerLocation, `volume ${i}'s row`).to.equal(mapped[i]);
        const t = await tree(nv);
        for (const m of mounts()) expect((await readdir(m)).some((n) => n.startsWith(`volume-${nv}`)), `volume ${i} on ${m}`).to.equal(m === dirs[i]);
        const snap = (await api.get(`/v3/snapshots/detail?all_tenants=1`).set(auth('admin')).expect(200)).body.snapshots.find((x: { volume_id: string }) => x.volume_id === nv) as { id: string };
        const point = path.join(dirs[i] as string, t.snapshots.find((x) => x.id === snap.id)!.owned_file);
        await verifyPattern(point, 'qcow2', 0x41 + i, 0, MiB);
        await verifyPattern(path.join(dirs[i] as string, t.active_file), 'qcow2', 0x51 + i, 4 * MiB, MiB);
        points.push(point);
      }
      const cpDir = path.join(address(0), 'checkpoints', got.instance_uuid, got.checkpoints[0]!.id);
      // QEMU's state as exported; the image's own definition (its header) is the placed one, naming each disk on its mapped share.
      const placedMemory = await readFile(path.join(cpDir, 'memory.save'));
      expect(placedMemory.length).to.equal(memory.length);
      expect(placedMemory.subarray(-64 * 1024)).to.deep.equal(memory.subarray(-64 * 1024));
      expect(definitionInSaveImage(placedMemory, placedMemory.length, 'memory')).to.equal(await readFile(path.join(cpDir, 'memory.domain.xml'), 'utf8'));
      const record = parseRecord(await readFile(path.join(cpDir, 'checkpoint.json'), 'utf8'), 'checkpoint.json', { id: got.checkpoints[0]!.id, instanceUuid: got.instance_uuid });
      expect(record.volumes.map((v) => v.snapshotPoint)).to.deep.equal(points);
      expect(record.importedMount).to.equal(address(0));
      expect(record.importedShares).to.have.deep.members([{ mount: mounts()[2], address: gluster.address, type: 'glusterfs' }, { mount: address(1), address: address(1), type: 'local' }]);
      for (const file of ['domain.xml', 'memory.domain.xml']) {
        expect([...(await readFile(path.join(cpDir, file), 'utf8')).matchAll(/<source file='([^']*)'/g)].map((m) => m[1]), file).to.deep.equal(points);
      }
      // The volume on GlusterFS is an ordinary volume there: it takes a snapshot; the checker finds nothing amiss.
      const onGluster = got.volumes.find((x) => x.source_id === vols[0])!.id;
      const taken = (await api.post('/v3/snapshots').set(auth('admin')).send({ snapshot: { volume_id: onGluster } }).expect(202)).body.snapshot.id as string;
      // The import's rows are the admin's project: read as admin.
      const status = await eventually(async () => {
        const st = String((await api.get(`/v3/snapshots/${taken}`).set(auth('admin')).expect(200)).body.snapshot.status);
        return st === 'creating' ? undefined : st;
      }, 120_000);
      expect(status).to.equal('available');
      // (The source volumes are attached to the stand-in's instance, which has no guest: the checker's findings about them are not this test's.)
      const imported = new Set(got.volumes.map((v) => v.id));
      const check = (await api.post('/v3/os-check').set(auth('admin')).send({ check: { repair: false } }).expect(200)).body.check as { divergences: { volume_id: string | null }[] };
      expect(check.divergences.filter((d) => d.volume_id !== null && imported.has(d.volume_id))).to.deep.equal([]);
    });

    it('an import a crash interrupted is settled on every share it touched: temps, renamed files, staging and instance directories', async () => {
      const deps = svc.deps;
      const newInstance = randomUUID();
      const [v1, v2] = [randomUUID(), randomUUID()];
      const ops = [randomUUID(), randomUUID()];
      for (const [i, vid] of [v1, v2].entries()) {
        await deps.repos.operations.insert({ id: ops[i]!, kind: 'import_volume', volumeId: vid, projectId: 'alice-project', snapshotId: null, fencingToken: null, overlayFile: `instance:${newInstance}` });
      }
      const [a, b, g] = mounts() as [string, string, string];
      await writeFile(path.join(g, `.volume-${v1}.${randomUUID()}.tmp`), 'half');
      await writeFile(path.join(b, `volume-${v2}`), 'renamed');
      await writeFile(path.join(b, `.volume-${v2}.${randomUUID()}.tmp`), 'half');
      await mkdir(path.join(a, 'checkpoints', `.import-${newInstance}.tmp`, randomUUID()), { recursive: true });
      const reports = await settleInterruptedVolumeOps(deps, 0);
      for (const op of ops) expect(reports.find((x) => x.operationId === op)?.outcome, JSON.stringify(reports)).to.equal('failed');
      for (const m of [a, b, g]) expect((await shareListing(m)).filter((n) => n.includes(v1) || n.includes(v2) || n.includes(newInstance)), m).to.deep.equal([]);
    });

    it('the CLI: import-instance --volume-share (repeated) sends the map; --help documents it', async () => {
      const out = await mkdtemp(path.join(os.tmpdir(), 'qcs-instmap-cli-'));
      try {
        const cli = async (...args: string[]) => (await cliAt(svc.url, 'admin', '--json', ...args)).join('\n');
        const file = path.join(out, 'vm.tar');
        await writeFile(file, archive);
        const got = JSON.parse(await cli('import-instance', file, '--no-progress', '--share', address(1), '--volume-share', `${vols[0]}:${address(0)}`, '--volume-share', `${vols[1]}:${gluster.address}`)) as {
          instance_import: { instance_uuid: string; volumes: { id: string; source_id: string }[] };
        };
        const rows = await Promise.all(vols.map(async (v) => (await svc.deps.repos.volumes.get(got.instance_import.volumes.find((x) => x.source_id === v)!.id))?.providerLocation));
        expect(rows).to.deep.equal([address(0), gluster.address]);
        expect((await readdir(path.join(address(1), 'checkpoints'))).includes(got.instance_import.instance_uuid), 'the checkpoint on --share').to.equal(true);
        const help = buildProgram(() => undefined).commands.find((c) => c.name() === 'import-instance')?.helpInformation() ?? '';
        expect(help).to.match(/--volume-share <id:share>\s+put the archived volume <id> on <share>/);
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    });
  });
}
