/**
 * Issue 17's Cinder v3 calls with the stock `cinder` CLI through a real Keystone (password
 * authentication, the service found in the catalog), one call per item, with the roles Keystone
 * gives: an admin, a member and a reader of one project. Admin-only calls (type-create/delete,
 * quota-update, service-list, get-pools) are refused to the member with 403; the reader reads but
 * cannot write (metadata, snapshot-metadata, attachment-create, quota-update); the member does the
 * rest: attachment create/update/complete/delete, type-list, quota-show/usage, absolute-limits,
 * availability-zone-list, metadata and snapshot-metadata set/unset, message-list. Real RemoteFS
 * driver on a local share, SQLite: each CLI call authenticates anew (about ten seconds apiece on
 * a loaded 2-core machine), so the MariaDB pass is left to the noauth CLI suites of each item.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { run } from '../../../../lib/core/process.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { TestKeystone, type KeystoneUser } from '../../../fixtures/keystone.js';
import { until } from '../../../fixtures/until.js';
import { BACKENDS, type TestDb } from '../../../fixtures/api/harness.js';

const SQLITE = BACKENDS.filter((b) => b.name === 'sqlite');

type Who = 'admin' | 'member' | 'reader';

for (const backend of SQLITE) {
  describe(`the cinder CLI's issue-17 calls through Keystone, by role (${backend.name})`, function () {
    this.timeout(900_000);
    let ks: TestKeystone;
    let db: TestDb;
    let dir: string;
    let svc: RunningService;
    let region: string;
    let project: { id: string; name: string };
    const users = {} as Record<Who, KeystoneUser>;

    before(async () => {
      ks = await TestKeystone.start();
      db = await backend.create();
      dir = await mkdtemp(path.join(tmpdir(), 'qcs-cinder-ks-calls-'));
      project = await ks.project('calls');
      const svcProject = await ks.project('svc');
      const validator = await ks.user('validator', svcProject, ['service']);
      users.admin = await ks.user('admin', project, ['admin']);
      users.member = await ks.user('member', project, ['member']);
      users.reader = await ks.user('reader', project, ['reader']);
      const passwordFile = path.join(dir, 'keystone-password');
      await writeFile(passwordFile, `${validator.password}\n`, { mode: 0o600 });
      svc = await startService({
        config: parseServiceConfig({
          log: { level: 'silent' }, db: db.config,
          api: { host: '127.0.0.1', port: 0, auth: 'keystone', keystone: { url: ks.url, username: validator.name, project: validator.projectName, passwordFile, timeoutMs: 60_000 } },
          storage: { driver: 'remotefs', shares: [{ type: 'local', address: path.join(dir, 'share') }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null },
        }),
        reaperIntervalMs: 0,
      });
      region = await ks.catalogEntry('volumev3', `${svc.url}/v3/%(project_id)s`);
    });

    after(async () => {
      await svc?.stop();
      await ks?.cleanup();
      await db?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** The CLI as `who`, password authentication through Keystone; exit status and output. */
    const cinder = (who: Who, ...args: string[]) => {
      const u = users[who];
      return run('cinder', args, {
        allowFailure: true, timeoutMs: 120_000,
        env: ks.cinderClientEnv(u, region, { OS_VOLUME_API_VERSION: '3.54' }),
      });
    };
    const ok = async (who: Who, ...args: string[]) => {
      const r = await cinder(who, ...args);
      expect(r.exitCode, `${who}: cinder ${args.join(' ')}\n${r.stderr}`).to.equal(0);
      return r.stdout;
    };
    const forbidden = async (who: Who, ...args: string[]) => {
      const r = await cinder(who, ...args);
      expect(r.exitCode, `${who}: cinder ${args.join(' ')} succeeded`).to.not.equal(0);
      expect(r.stderr, `${who}: cinder ${args.join(' ')}`).to.match(/HTTP 403/);
    };
    const field = (out: string, name: string) => new RegExp(`^\\|\\s*${name}\\s*\\|\\s*(\\S+)`, 'm').exec(out)?.[1];
    const api = async (who: Who, method: string, p: string, body?: unknown) => {
      const res = await fetch(`${svc.url}/v3/${project.id}${p}`, {
        method, headers: { 'content-type': 'application/json', 'x-auth-token': await ks.token(users[who]) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, Record<string, unknown>> };
    };
    const statusOf = (kind: 'volumes' | 'snapshots', id: string, want: string) => until(`${kind} ${id} ${want}`, async () => {
      const r = await api('member', 'GET', `/${kind}/${id}`);
      return r.body[kind === 'volumes' ? 'volume' : 'snapshot']?.status === want ? true : undefined;
    }, 300_000, 500);

    it('volume types: admins create and delete, members and readers list; a member cannot create', async () => {
      await ok('admin', 'type-create', 'ks-gold');
      expect(await ok('member', 'type-list')).to.match(/\|\s*ks-gold\s*\|/);
      expect(await ok('reader', 'type-list')).to.match(/\|\s*__DEFAULT__\s*\|/);
      await forbidden('member', 'type-create', 'ks-silver');
      // The CLI prints only that it could not (its lookup hides the 403); the API's answer and the list say why and that nothing changed.
      const del = await cinder('member', 'type-delete', 'ks-gold');
      expect([del.exitCode !== 0, del.stderr]).to.satisfy(([failed, err]: [boolean, string]) => failed && /Unable to delete/.test(err));
      const gold = (await api('admin', 'GET', '/types/ks-gold')).body.volume_type?.id as string;
      expect((await api('member', 'DELETE', `/types/${gold}`)).status).to.equal(403);
      expect(await ok('member', 'type-list')).to.match(/\|\s*ks-gold\s*\|/);
      await ok('admin', 'type-delete', 'ks-gold');
      expect(await ok('admin', 'type-list')).to.not.include('ks-gold');
    });

    it('quotas and limits: members and readers read their project\'s, only admins update', async () => {
      await ok('admin', 'quota-update', '--volumes', '20', project.id);
      expect(field(await ok('member', 'quota-show', project.id), 'volumes')).to.equal('20');
      expect(await ok('reader', 'quota-usage', project.id)).to.match(/\|\s*volumes\s*\|\s*0\s*\|/);
      expect(await ok('member', 'absolute-limits')).to.match(/\|\s*maxTotalVolumes\s*\|\s*20\s*\|/);
      await forbidden('member', 'quota-update', '--volumes', '30', project.id);
      await forbidden('reader', 'quota-update', '--volumes', '30', project.id);
      expect(field(await ok('admin', 'quota-show', project.id), 'volumes')).to.equal('20');
    });

    it('availability zones for everyone; services and pools for admins only', async () => {
      expect(await ok('reader', 'availability-zone-list')).to.match(/\|\s*nova\s*\|\s*available\s*\|/);
      expect(await ok('admin', 'service-list')).to.match(/cinder-volume|qcowshare/);
      expect(await ok('admin', 'get-pools')).to.include(path.join(dir, 'share'));
      await forbidden('member', 'service-list');
      await forbidden('member', 'get-pools');
    });

    it('metadata, snapshot metadata, attachments and messages: the member writes, the reader only reads', async () => {
      const vid = field(await ok('member', 'create', '1', '--name', 'ks-calls'), 'id') as string;
      await statusOf('volumes', vid, 'available');
      await ok('member', 'metadata', vid, 'set', 'a=1', 'b=2');
      await ok('member', 'metadata', vid, 'unset', 'a');
      await forbidden('reader', 'metadata', vid, 'set', 'c=3');
      expect((await api('reader', 'GET', `/volumes/${vid}/metadata`)).body.metadata).to.deep.equal({ b: '2' });

      const sid = field(await ok('member', 'snapshot-create', vid), 'id') as string;
      await statusOf('snapshots', sid, 'available');
      await ok('member', 'snapshot-metadata', sid, 'set', 'p=1', 'q=2');
      await ok('member', 'snapshot-metadata', sid, 'unset', 'p');
      await forbidden('reader', 'snapshot-metadata', sid, 'set', 'r=3');
      expect((await api('reader', 'GET', `/snapshots/${sid}/metadata`)).body.metadata).to.deep.equal({ q: '2' });

      // The host the connector names is a registered compute host (admin registers it).
      const host = `ks-compute-${randomUUID().slice(0, 8)}`;
      const reg = await api('admin', 'PUT', `/os-compute-hosts/${host}`, { compute_host: { coordinator_endpoint: `https://${host}.example:8780`, credential: `credential-of-${host}-0123456789` } });
      expect([200, 201], JSON.stringify(reg.body)).to.include(reg.status);
      await forbidden('reader', 'attachment-create', vid, randomUUID());
      const aid = field(await ok('member', 'attachment-create', vid, randomUUID()), 'id') as string;
      expect(aid).to.match(/^[0-9a-f-]{36}$/);
      expect(await ok('member', 'attachment-update', '--host', host, '--mountpoint', '/dev/vdb', aid)).to.include(`volume-${vid}`);
      await forbidden('reader', 'attachment-complete', aid);
      await ok('member', 'attachment-complete', aid);
      expect(field(await ok('reader', 'attachment-show', aid), 'status')).to.equal('attached');
      expect((await api('member', 'GET', `/volumes/${vid}`)).body.volume?.status).to.equal('in-use');
      await forbidden('reader', 'attachment-delete', aid);
      await ok('member', 'attachment-delete', aid);
      expect((await api('member', 'GET', `/volumes/${vid}`)).body.volume?.status).to.equal('available');

      expect(await ok('reader', 'message-list')).to.match(/\|\s*ID\s*\|/);
      await ok('member', 'snapshot-delete', sid);
      await until('snapshot gone', async () => ((await api('member', 'GET', `/snapshots/${sid}`)).status === 404 ? true : undefined), 300_000, 500);
      await ok('member', 'delete', vid);
    });
  });
}
