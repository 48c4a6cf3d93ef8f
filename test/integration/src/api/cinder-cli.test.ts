/**
 * The real OpenStack `cinder` client (python3-cinderclient) in noauth mode against the service:
 * version negotiation at `/`, project-less paths, field names and status values as it expects.
 */
import { expect } from 'chai';
import { run } from '../../../../lib/core/process.js';
import { BACKENDS, eventually, startTestService, type TestDb, type TestService } from '../../../fixtures/api/harness.js';

describe('api with the real cinder CLI (noauth, SQLite)', function () {
  this.timeout(120_000);
  let db: TestDb;
  let t: TestService;
  const user = `u${Date.now()}`;
  const project = `p${Date.now()}`;

  before(async () => {
    db = await (BACKENDS.find((b) => b.name === 'sqlite') as (typeof BACKENDS)[number]).create();
    t = await startTestService(db.config, { auth: 'noauth' });
  });
  after(async () => {
    await t?.stop();
    await db?.cleanup();
  });

  const cinder = async (...args: string[]): Promise<string> => {
    const r = await run('cinder', ['--os-auth-type', 'noauth', '--os-user-id', user, '--os-project-id', project, '--os-endpoint', `${t.svc.url}/v3`, ...args], { timeoutMs: 60_000 });
    return r.stdout;
  };
  /** The value column of a `cinder show`-style table row. */
  const field = (out: string, name: string) => new RegExp(`^\\|\\s*${name}\\s*\\|\\s*(\\S+)`, 'm').exec(out)?.[1];
  // Each cinder run is a Python start-up (about a second on a loaded machine): generous limits.
  const untilListed = (args: string[], id: string, status: string) =>
    eventually(async () => ((await cinder(...args)).split('\n').some((l) => l.includes(id) && l.includes(` ${status} `)) ? true : undefined), 60_000);

  it('lists, creates, shows, snapshots, extends and deletes', async () => {
    // cinder create shows the volume as its GET right after the POST answers: the driver is held
    // until the command ended, so that GET sees the operation still running, whatever the machine's speed.
    const release = t.driver.hold();
    const created = await cinder('create', '1', '--name', 'cli-vol').finally(release);
    const vid = field(created, 'id') as string;
    expect(vid).to.match(/^[0-9a-f-]{36}$/);
    expect(field(created, 'status')).to.equal('creating');
    await untilListed(['list'], vid, 'available');
    const shown = await cinder('show', vid);
    expect(field(shown, 'name')).to.equal('cli-vol');
    expect(field(shown, 'os-vol-tenant-attr:tenant_id')).to.equal(project);

    const snap = await cinder('snapshot-create', '--name', 'cli-snap', vid);
    const sid = field(snap, 'id') as string;
    await untilListed(['snapshot-list'], sid, 'available');

    await cinder('extend', vid, '2');
    await eventually(async () => (field(await cinder('show', vid), 'size') === '2' ? true : undefined));

    await cinder('snapshot-delete', sid);
    await eventually(async () => (!(await cinder('snapshot-list')).includes(sid) ? true : undefined), 60_000);
    await cinder('delete', vid);
    await eventually(async () => (!(await cinder('list')).includes(vid) ? true : undefined), 60_000);
    expect(t.driver.volumes.has(vid)).to.equal(false);
  });
});
