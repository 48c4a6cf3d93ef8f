/**
 * Instance export and import through the API with the real RemoteFS driver, on SQLite and MariaDB
 * (issue 15 item 4). The instance's host is a recording stand-in for its coordinator (it answers
 * GET /v1/instances/{uuid}/definition as coordinator/checkpoint/routes.ts does, at the address
 * the registry holds); the checkpoint is a row and its files as a take leaves them. A running
 * instance is refused; a shut-off one exports; the import makes new volumes, snapshot rows (their
 * checkpoint marks follow the new checkpoint), the checkpoint row and its files; a hostile archive
 * is refused with nothing left; members and admins only as the policy says; an import a crash
 * interrupted is settled by the interrupted-operations pass.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { settleInterruptedVolumeOps } from '../../../../src/api/usecases/interrupted-volume-ops.js';
import { cliAt } from '../../../fixtures/cli/in-process-cli.js';
import { run } from '../../../../lib/core/process.js';
import { verifyPattern } from '../../../../lib/qemu/img.js';
import { shareListing } from '../../../fixtures/shares.js';
import { BACKENDS, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { checkpointedInstance, coordinatorStandIn } from '../../../fixtures/api/instance-source.js';
import { binary } from '../../../fixtures/binary-body.js';
import { packEntries, unpack } from '../../../fixtures/export/tar-entries.js';
import { definitionInSaveImage } from '../../../../drivers/remotefs/export/memory-definition.js';

const MiB = 1024 * 1024;

for (const backend of BACKENDS) {
  describe(`api: instance export and import with the real driver (${backend.name})`, function () {
    this.timeout(300_000);
    let dir: string;
    let svc: RunningService;
    let api: ReturnType<typeof supertest>;
    remotefsServiceHooks(backend, 'qcs-instexp-', (s) => ({ dir, svc, http: api } = s));
    const share = () => path.join(dir, 'share');
    const coord = coordinatorStandIn();
    const CREDENTIAL = `instexp-credential-${randomUUID()}`;
    let instance: string;
    let cp: string;
    let memory: Buffer;
    let tpmState: Buffer;
    let vol: string;
    let snap: string;
    const tree = async (vid: string) => (await api.get(`/v3/volumes/${vid}/tree`).set(auth('admin')).expect(200)).body.tree as { active_file: string; snapshots: { id: string; owned_file: string }[] };
    const codeOf = (r: { body: Record<string, { error_code?: string }> }) => Object.values(r.body)[0]?.error_code;

    before(async () => {
      await new Promise<void>((resolve) => coord.server.listen(0, '127.0.0.1', resolve));
      ({ instance, cp, memory, tpmState, vol, snap } = await checkpointedInstance(api, svc, share(), coord, CREDENTIAL, 'instexp-api'));
    });
    after(async () => { await new Promise((r) => coord.server.close(r)); });

    let archive: Buffer;

    it('refuses a running instance (nothing read) and a member (admin only)', async () => {
      coord.answer.state = 'active';
      const r = await api.get(`/v3/os-instances/${instance}/os-export`).set(auth('admin'));
      expect(codeOf(r), JSON.stringify(r.body)).to.equal('INVALID_STATE');
      expect(coord.seen.at(-1)?.token).to.equal(CREDENTIAL);
      expect((await api.get(`/v3/os-instances/${instance}/os-export`).set(auth('alice'))).status).to.equal(403);
    });

    it('refuses an export whose saved TPM state on the share is not the one recorded at the take', async () => {
      coord.answer.state = 'shutoff';
      const file = path.join(share(), 'checkpoints', instance, cp, 'tpm.permall');
      const replaced = Buffer.from(tpmState);
      replaced[0] = replaced[0]! ^ 0xff;
      await writeFile(file, replaced);
      try {
        const r = await api.get(`/v3/os-instances/${instance}/os-export`).set(auth('admin'));
        expect(codeOf(r), JSON.stringify(r.body)).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
      } finally {
        await writeFile(file, tpmState);
      }
    });

    it('exports a shut-off instance: volume files, definitions, memory; the share untouched', async () => {
      coord.answer.state = 'shutoff';
      const before = await shareListing(share());
      const r = await api.get(`/v3/os-instances/${instance}/os-export`).set(auth('admin')).buffer(true).parse(binary).expect(200);
      archive = r.body as Buffer;
      expect(Number(r.headers['content-length'])).to.equal(archive.length);
      expect((await unpack(archive)).map((e) => e.name)).to.include.members(['manifest.json', 'instance.domain.xml', `checkpoint-${cp}.memory`, `checkpoint-${cp}.domain.xml`, `checkpoint-${cp}.tpm`, 'SHA256SUMS']);
      expect(await shareListing(share())).to.deep.equal(before);
    });

    it('imports as new volumes, snapshot rows and a checkpoint row with its files; the data reads back', async () => {
      const r = await api.post('/v3/os-instance-import').set(auth('admin')).set('content-type', 'application/x-tar').send(archive);
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      const got = r.body.instance_import as { instance_uuid: string; volumes: { id: string; source_id: string }[]; checkpoints: { id: string; source_id: string }[] };
      expect(got.volumes.map((v) => v.source_id)).to.deep.equal([vol]);
      const nv = got.volumes[0]!.id;
      const ncp = got.checkpoints[0]!.id;
      expect((await api.get(`/v3/volumes/${nv}`).set(auth('admin')).expect(200)).body.volume.status).to.equal('available');
      const snaps = (await api.get(`/v3/snapshots/detail?all_tenants=1`).set(auth('admin')).expect(200)).body.snapshots as { id: string; volume_id: string; metadata: Record<string, string> }[];
      const member = snaps.find((x) => x.volume_id === nv)!;
      expect(member.metadata).to.include({ checkpoint_id: ncp, qcowshare_import_source: snap });
      const c = (await api.get(`/v3/os-checkpoints/${ncp}`).set(auth('admin')).expect(200)).body.checkpoint as Record<string, unknown>;
      expect(c).to.include({ status: 'available', instance_uuid: got.instance_uuid, name: 'c1', description: 'before the upgrade' });
      // QEMU's state as exported; the image's own definition now names the new instance (libvirt restores it only under those ids).
      const placedMemory = await readFile(path.join(share(), 'checkpoints', got.instance_uuid, ncp, 'memory.save'));
      expect(placedMemory.subarray(-128 * 1024)).to.deep.equal(memory.subarray(-128 * 1024));
      expect(definitionInSaveImage(placedMemory, placedMemory.length, 'memory')).to.include(`<uuid>${got.instance_uuid}</uuid>`).and.include(`<serial>${nv}</serial>`);
      expect(await readFile(path.join(share(), 'checkpoints', got.instance_uuid, ncp, 'tpm.permall'))).to.deep.equal(tpmState);
      const t = await tree(nv);
      const point = t.snapshots.find((x) => x.id === member.id)!.owned_file;
      await verifyPattern(path.join(share(), point), 'qcow2', 0x31, 0, MiB);
      await verifyPattern(path.join(share(), t.active_file), 'qcow2', 0x32, 4 * MiB, MiB);
    });

    it('keep_ids while the archive\'s ids are taken (the source still exists): CONFLICT, nothing left', async () => {
      const before = await shareListing(share());
      const volumes = (await api.get('/v3/volumes?all_tenants=1').set(auth('admin')).expect(200)).body.volumes.length as number;
      const r = await api.post('/v3/os-instance-import?keep_ids=true').set(auth('admin')).set('content-type', 'application/x-tar').send(archive);
      expect(codeOf(r), JSON.stringify(r.body)).to.equal('CONFLICT');
      expect(await shareListing(share())).to.deep.equal(before);
      expect((await api.get('/v3/volumes?all_tenants=1').set(auth('admin')).expect(200)).body.volumes.length).to.equal(volumes);
    });

    it('the CLI: export-instance to a file that tar lists, import-instance of it', async () => {
      const out = await mkdtemp(path.join(os.tmpdir(), 'qcs-instexp-cli-'));
      try {
        const cli = async (...args: string[]) => (await cliAt(svc.url, 'admin', '--json', ...args)).join('\n');
        const file = path.join(out, 'vm.tar');
        await cli('export-instance', instance, '-o', file, '--no-progress');
        const listed = (await run('tar', ['-tf', file])).stdout.trim().split('\n');
        expect(listed[0]).to.equal('manifest.json');
        expect(listed.at(-1)).to.equal('SHA256SUMS');
        const got = JSON.parse(await cli('import-instance', file, '--no-progress')) as { instance_import: { instance_uuid: string; volumes: unknown[]; checkpoints: unknown[] } };
        expect(got.instance_import.volumes).to.have.length(1);
        expect(got.instance_import.checkpoints).to.have.length(1);
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    });

    it('refuses a hostile archive (a flipped memory byte) with nothing left: no row, no file', async () => {
      const entries = (await unpack(archive)).map((e) => {
        if (e.name !== `checkpoint-${cp}.memory`) return e;
        const d = Buffer.from(e.data!);
        d[7] = d[7]! ^ 0x5a;
        return { name: e.name, data: d };
      });
      const before = await shareListing(share());
      const volumes = (await api.get('/v3/volumes?all_tenants=1').set(auth('admin')).expect(200)).body.volumes.length as number;
      const r = await api.post('/v3/os-instance-import').set(auth('admin')).set('content-type', 'application/x-tar').send(await packEntries(entries));
      expect(codeOf(r), JSON.stringify(r.body)).to.equal('ARCHIVE_CHECKSUM_MISMATCH');
      expect(await shareListing(share())).to.deep.equal(before);
      expect((await api.get('/v3/volumes?all_tenants=1').set(auth('admin')).expect(200)).body.volumes.length).to.equal(volumes);
    });

    it('an instance import a crash interrupted is settled: volume files, staging and instance directories removed, operations failed', async () => {
      const deps = svc.deps;
      const newInstance = randomUUID();
      const [v1, v2] = [randomUUID(), randomUUID()];
      const ops = [randomUUID(), randomUUID()];
      // What a killed import leaves: its intents (running, leases expired), temps, a renamed file, the staging and the placed directory.
      for (const [i, vid] of [v1, v2].entries()) {
        await deps.repos.operations.insert({ id: ops[i]!, kind: 'import_volume', volumeId: vid, projectId: 'alice-project', snapshotId: null, fencingToken: null, overlayFile: `instance:${newInstance}` });
      }
      await writeFile(path.join(share(), `.volume-${v1}.${randomUUID()}.tmp`), 'half');
      await writeFile(path.join(share(), `volume-${v2}`), 'renamed');
      await mkdir(path.join(share(), 'checkpoints', `.import-${newInstance}.tmp`, randomUUID()), { recursive: true });
      await mkdir(path.join(share(), 'checkpoints', newInstance, randomUUID()), { recursive: true });
      const reports = await settleInterruptedVolumeOps(deps, 0);
      for (const op of ops) {
        expect(reports.find((x) => x.operationId === op)?.outcome, JSON.stringify(reports)).to.equal('failed');
        expect((await deps.repos.operations.get(op))?.state).to.equal('failed');
      }
      const left = [...await readdir(share()), ...await readdir(path.join(share(), 'checkpoints'))];
      expect(left.filter((n) => n.includes(v1) || n.includes(v2) || n.includes(newInstance))).to.deep.equal([]);
    });

    it("an interrupted import of an instance another import has committed since: only its volume's files go, the committed instance's directory stays", async () => {
      const deps = svc.deps;
      // The committed import: the archive imported with new ids (its operation succeeded, its checkpoint row exists).
      const r = await api.post('/v3/os-instance-import').set(auth('admin')).set('content-type', 'application/x-tar').send(archive);
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      const got = r.body.instance_import as { instance_uuid: string; checkpoints: { id: string }[] };
      const placed = path.join(share(), 'checkpoints', got.instance_uuid);
      const before = await shareListing(placed);
      expect(before.length).to.be.greaterThan(0);
      // An earlier import of the same instance uuid, killed before its commit, whose lease expired before the committed one began.
      const vid = randomUUID();
      const op = randomUUID();
      await deps.repos.operations.insert({ id: op, kind: 'import_volume', volumeId: vid, projectId: 'alice-project', overlayFile: `instance:${got.instance_uuid}` });
      await writeFile(path.join(share(), `.volume-${vid}.${randomUUID()}.tmp`), 'half');
      const reports = await settleInterruptedVolumeOps(deps, 0);
      expect(reports.find((x) => x.operationId === op)?.outcome, JSON.stringify(reports)).to.equal('failed');
      expect((await readdir(share())).filter((n) => n.includes(vid))).to.deep.equal([]);
      expect(await shareListing(placed)).to.deep.equal(before);
      expect((await api.get(`/v3/os-checkpoints/${got.checkpoints[0]!.id}`).set(auth('admin')).expect(200)).body.checkpoint.status).to.equal('available');
    });
  });
}
