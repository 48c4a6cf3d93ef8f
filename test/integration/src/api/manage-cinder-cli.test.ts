/**
 * The real OpenStack `cinder` client (python3-cinderclient, noauth: an admin context) manages,
 * lists and unmanages against the service with the real RemoteFS driver on a local share: the
 * request and answer shapes are the ones it sends and reads.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { run } from '../../../../lib/core/process.js';
import type { RunningService } from '../../../../src/api/server.js';
import { shareListing } from '../../../fixtures/shares.js';
import { BACKENDS, eventually, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

describe('manage with the real cinder CLI (noauth, SQLite, local share)', function () {
  this.timeout(300_000);
  let share: string;
  let svc: RunningService;
  remotefsServiceHooks(BACKENDS[0] as (typeof BACKENDS)[number], 'qcs-manage-cinder-', (s) => {
    share = path.join(s.dir, 'share');
    svc = s.svc;
  }, { auth: 'noauth' });

  const cinder = async (...args: string[]): Promise<string> =>
    (await run('cinder', ['--os-auth-type', 'noauth', '--os-user-id', 'ops', '--os-project-id', 'ops', '--os-endpoint', `${svc.url}/v3`, ...args], { timeoutMs: 60_000 })).stdout;
  const field = (out: string, name: string) => new RegExp(`^\\|\\s*${name}\\s*\\|\\s*(\\S+)`, 'm').exec(out)?.[1];

  it('manageable-list, manage (pool form host), unmanage', async () => {
    const id = randomUUID();
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(share, `volume-${id}`), String(1024 * 1024)]);
    const host = `storage@remotefs#${share}`;
    const listed = await cinder('--os-volume-api-version', '3.8', 'manageable-list', host);
    const row = listed.split('\n').find((l) => l.includes(`volume-${id}`)) ?? '';
    expect(row).to.match(/\|\s*1\s*\|\s*True\s*\|/);

    const managed = await cinder('manage', '--name', 'from-cinder', '--metadata', 'k=v', host, `volume-${id}`);
    expect(field(managed, 'id')).to.equal(id);
    await eventually(async () => (field(await cinder('show', id), 'status') === 'available' ? true : undefined), 60_000);
    expect(field(await cinder('show', id), 'name')).to.equal('from-cinder');

    const files = await shareListing(share);
    await cinder('unmanage', id);
    expect((await cinder('list', '--all-tenants')).includes(id)).to.equal(false);
    expect(await shareListing(share)).to.deep.equal(files);
  });
});
