/**
 * os-define on the storage side (usecases/instances/instance-define.ts), SQLite and MariaDB, the
 * real RemoteFS driver on a local share and a coordinator stand-in answering as
 * coordinator/checkpoint/routes.ts does: every refusal before anything changes (an unregistered
 * host, no imported definition, a member), the host's refusal releasing the attachments it
 * recorded, the define sending each volume's active file and recording the attachments and the
 * checkpoints' host, a second define refused. The define on libvirt with the booted guest:
 * test/e2e/instance-import-revert.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { importedDefinitionPath } from '../../../../../../lib/protocol/imported-instance.js';
import { parseServiceConfig } from '../../../../../../src/api/service-config.js';
import { startService, type RunningService } from '../../../../../../src/api/server.js';
import { BACKENDS, TOKENS, auth, eventually, type TestDb } from '../../../../../fixtures/api/harness.js';

interface Define { instance: string; body: { sources: { volume_id: string; file: string }[] } }

for (const backend of BACKENDS) {
  describe(`os-define: an imported instance defined stopped on a compute host (${backend.name})`, function () {
    this.timeout(300_000);
    const host = `def-${randomUUID().slice(0, 8)}`;
    const instance = randomUUID();
    let db: TestDb;
    let dir = '';
    let share = '';
    let svc: RunningService | undefined;
    let api: ReturnType<typeof supertest>;
    let vol = '';
    const seen: Define[] = [];
    /** The stand-in: `has` answers 409 (libvirt there knows the instance already). */
    const coord = { has: false, server: null as http.Server | null };
    const codeOf = (r: { body: unknown }) => Object.values(r.body as Record<string, { error_code?: string }>)[0]?.error_code;
    const define = (h: string, who: Parameters<typeof auth>[0] = 'admin') => api.post(`/v3/os-instances/${instance}/action`).set(auth(who)).send({ 'os-define': { host: h } });
    const volume = async () => (await api.get(`/v3/volumes/${vol}`).set(auth('admin')).expect(200)).body.volume as { status: string; attachments: { server_id: string; host_name: string }[] };

    before(async () => {
      db = await backend.create();
      dir = await mkdtemp(path.join(tmpdir(), 'qcs-instdef-'));
      share = path.join(dir, 'share');
      svc = await startService({
        config: parseServiceConfig({
          log: { level: 'silent' }, db: db.config, api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
          storage: { driver: 'remotefs', shares: [{ type: 'local', address: share }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null },
        }),
        reaperIntervalMs: 0,
      });
      api = supertest(svc.url);
      coord.server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const answer = (status: number, json: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(json)); };
          const m = /^\/v1\/instances\/([0-9a-f-]{36})\/define$/.exec(req.url ?? '');
          if (!m || req.method !== 'POST') return answer(404, { error: { code: 'NOT_FOUND', message: 'no route' } });
          seen.push({ instance: m[1] as string, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Define['body'] });
          if (coord.has) return answer(409, { error: { code: 'CONFLICT', message: 'already defined here' } });
          coord.has = true;
          return answer(201, { instance: { present: true, active: false, disks: [] } });
        });
      });
      await new Promise<void>((resolve) => coord.server?.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(coord.server.address() as AddressInfo).port}/`;
      await api.put(`/v3/os-compute-hosts/${host}`).set(auth('admin')).send({ compute_host: { coordinator_endpoint: url, credential: `credential-${randomUUID()}` } }).expect(201);
      vol = (await api.post('/v3/volumes').set(auth('admin')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await eventually(async () => ((await volume()).status === 'available' ? true : undefined), 120_000);
    });
    after(async () => {
      await svc?.stop();
      await new Promise((r) => coord.server?.close(r));
      await db?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('refuses before anything changes: a member, an unregistered host, no imported definition', async () => {
      expect((await define(host, 'alice')).status).to.equal(403);
      const unknown = await define('no-such-host');
      expect([unknown.status, codeOf(unknown)]).to.deep.equal([400, 'COMPUTE_HOST_UNKNOWN']);
      const none = await define(host);
      expect([none.status, codeOf(none)]).to.deep.equal([404, 'NOT_FOUND']);
      expect(none.text).to.match(/no share holds an imported definition/);
      expect(seen, 'nothing sent to the host').to.deep.equal([]);
      expect([(await volume()).status, (await volume()).attachments]).to.deep.equal(['available', []]);
    });

    it('the host refuses (it knows the instance already): the attachments recorded for it are released', async () => {
      // As an instance import places it: the definition on the share, disks on the volume's files by serial.
      const file = importedDefinitionPath(share, instance);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, `<domain type='kvm'><name>g</name><uuid>${instance}</uuid><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>`
        + `<source file='${path.join(share, `volume-${vol}`)}'/><target dev='vdb' bus='virtio'/><serial>${vol}</serial></disk></devices></domain>`);
      coord.has = true;
      const r = await define(host);
      expect([r.status, codeOf(r)], r.text).to.deep.equal([409, 'CONFLICT']);
      expect(seen.length).to.equal(1);
      expect([(await volume()).status, (await volume()).attachments]).to.deep.equal(['available', []]);
    });

    it('defines it: each volume\'s active file sent, the volume attached there, the checkpoints name the host; a second define is refused', async () => {
      const cid = randomUUID();
      const repos = (svc as RunningService).deps.repos;
      await repos.checkpoints.insert({
        id: cid, coordinatorId: cid, projectId: (await repos.volumes.get(vol))?.projectId as string, instanceUuid: instance, hostName: '', name: 'c1', description: null,
        mode: 'consistent', status: 'available', memorySize: 1, definitionSha256: 'a'.repeat(64), volumes: [{ volumeId: vol, target: 'vdb', snapshotPoint: `volume-${vol}`, snapshotId: null }],
      });
      coord.has = false;
      const active = (await api.get(`/v3/volumes/${vol}/tree`).set(auth('admin')).expect(200)).body.tree.active_file as string;
      const r = await define(host);
      expect(r.status, r.text).to.equal(200);
      expect(r.body.instance).to.deep.equal({ instance_uuid: instance, host_name: host, state: 'shutoff', volumes: [{ volume_id: vol, target: 'vdb', active_file: active }] });
      expect(seen[seen.length - 1]).to.deep.equal({ instance, body: { sources: [{ volume_id: vol, file: active }] } });
      const v = await volume();
      expect([v.status, v.attachments.map((a) => [a.server_id, a.host_name])]).to.deep.equal(['in-use', [[instance, host]]]);
      expect((await repos.checkpoints.get(cid))?.hostName).to.equal(host);
      const sent = seen.length;
      const again = await define(host);
      expect([again.status, codeOf(again)]).to.deep.equal([400, 'INVALID_STATE']);
      expect(seen.length, 'nothing sent').to.equal(sent);
    });
  });
}
