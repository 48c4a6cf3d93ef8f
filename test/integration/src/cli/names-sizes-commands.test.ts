/**
 * The CLI run as a separate process against the service (real driver, SQLite): names where ids
 * go (ambiguous and unknown names refused), sizes with units, the tree with dates, the question
 * before a shrinking revert, and the commands clone, create --from-snapshot, rename, metadata,
 * reset-state and force-delete; export and import by names.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { jsonDocs, jsonOf, runCli, runCliOnTerminal, type CliRun } from '../../../fixtures/cli/spawn-cli.js';

describe('cli: names, sizes, tree, shrinking revert, admin commands (process, SQLite)', function () {
  this.timeout(300_000);
  let svc: RunningService;
  let http: ReturnType<typeof supertest>;
  remotefsServiceHooks(BACKENDS[0] as (typeof BACKENDS)[number], 'qcs-cli-names-', (s) => ({ svc, http } = s));
  const waits = apiWaits(() => http);
  const as = (token: string) => (...args: string[]) => runCli(args, { QCS_URL: svc.url, QCS_TOKEN: token });
  const alice = as('alice');
  const admin = as('admin');
  const volumeOf = async (id: string) => (await http.get(`/v3/volumes/${id}`).set(auth('alice')).expect(200)).body.volume as { size: number; status: string; name: string; metadata: Record<string, string> };
  const errorOf = (r: CliRun) => (JSON.parse(r.stderr) as { error: { code: string; message: string; details?: { candidates?: { id: string }[] } } }).error;

  let web: string;
  let s1: string;

  before(async () => {
    const [created, done] = jsonDocs(await alice('--json', 'volume', 'create', '--size', '1', '--name', 'web', '--wait'));
    expect(done?.operation?.state).to.equal('succeeded');
    web = created?.volume?.id as string;
    // By name, not id: the snapshot command resolves "web".
    const [snap] = jsonDocs(await alice('--json', 'snapshot', 'create', 'web', '--name', 's1', '--wait'));
    s1 = snap?.snapshot?.id as string;
    await waits.settled('snapshots', s1, 'available');
  });

  it('an exact name stands for the id; a UUID is taken as an id', async () => {
    expect(jsonOf<{ volume: { id: string } }>(await alice('--json', 'volume', 'show', 'web')).volume.id).to.equal(web);
    expect(jsonOf<{ snapshot: { id: string } }>(await alice('--json', 'snapshot', 'show', 's1')).snapshot.id).to.equal(s1);
    expect(jsonOf<{ snapshots: { id: string }[] }>(await alice('--json', 'snapshot', 'list', '--volume', 'web')).snapshots.map((s) => s.id)).to.deep.equal([s1]);
    // A UUID is not looked up as a name: the service's own answer comes back.
    const r = await alice('--json', 'volume', 'show', randomUUID());
    expect(r.code).to.equal(1);
    expect(errorOf(r).code).to.equal('VOLUME_NOT_FOUND');
  });

  it('an unknown name and an ambiguous one are refused (exit 2), the candidates listed', async () => {
    const unknown = await alice('--json', 'volume', 'show', 'no-such');
    expect(unknown.code).to.equal(2);
    expect(errorOf(unknown).code).to.equal('NAME_NOT_FOUND');
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'twin' } }).expect(202);
      ids.push(r.body.volume.id as string);
      await waits.settled('volumes', r.body.volume.id as string, 'available');
    }
    const json = await alice('--json', 'volume', 'delete', 'twin');
    expect(json.code).to.equal(2);
    const e = errorOf(json);
    expect(e.code).to.equal('NAME_AMBIGUOUS');
    expect(e.details?.candidates?.map((c) => c.id).sort()).to.deep.equal([...ids].sort());
    const human = await alice('volume', 'delete', 'twin');
    expect(human.code).to.equal(2);
    for (const id of ids) expect(human.stderr).to.include(id);
    // Nothing was deleted.
    for (const id of ids) expect((await volumeOf(id)).status).to.equal('available');
  });

  it('tables show sizes with units; the tree shows sizes and dates', async () => {
    const list = await alice('volume', 'list');
    expect(list.code).to.equal(0);
    expect(list.stdout.split('\n').find((l) => l.startsWith(web))).to.match(/\b1 GiB\b/);
    const snap = (await http.get(`/v3/volumes/${web}/tree`).set(auth('alice')).expect(200)).body.tree.snapshots[0] as { created_at: string };
    const tree = await alice('volume', 'tree', 'web');
    expect(tree.code).to.equal(0);
    const line = tree.stdout.split('\n').find((l) => l.includes(s1)) ?? '';
    expect(line).to.include('s1').and.include('1 GiB').and.include(`${snap.created_at.slice(0, 10)} ${snap.created_at.slice(11, 16)}`);
  });

  it('a revert that shrinks the volume asks first: refused without a terminal or --yes, done with --yes', async () => {
    expect(jsonDocs(await alice('--json', 'volume', 'extend', 'web', '2', '--wait'))[1]?.operation?.state).to.equal('succeeded');
    const refused = await alice('--json', 'volume', 'revert', 'web', 's1', '--any');
    expect(refused.code).to.equal(2);
    expect(errorOf(refused)).to.include({ code: 'CONFIRMATION_REQUIRED' });
    expect(errorOf(refused).message).to.include('from 2 GiB to 1 GiB');
    expect(await volumeOf(web)).to.include({ size: 2, status: 'available' });
    expect(jsonDocs(await alice('--json', 'volume', 'revert', 'web', 's1', '--any', '--yes', '--wait'))[1]?.operation?.state).to.equal('succeeded');
    expect(await volumeOf(web)).to.include({ size: 1, status: 'available' });
  });

  it('on a terminal the shrinking revert asks: "n" changes nothing, "y" reverts', async () => {
    expect(jsonDocs(await alice('--json', 'volume', 'extend', 'web', '2', '--wait'))[1]?.operation?.state).to.equal('succeeded');
    const env = { QCS_URL: svc.url, QCS_TOKEN: 'alice' };
    const no = await runCliOnTerminal(['volume', 'revert', 'web', 's1', '--any'], env, 'n\n');
    expect(no.code).to.equal(2);
    expect(no.stdout).to.include('shrinks it from 2 GiB to 1 GiB; continue? [y/N]').and.include('CONFIRMATION_REQUIRED');
    expect(await volumeOf(web)).to.include({ size: 2, status: 'available' });
    const yes = await runCliOnTerminal(['volume', 'revert', 'web', 's1', '--any', '--wait'], env, 'y\n');
    expect(yes.code, yes.stdout).to.equal(0);
    expect(yes.stdout).to.include('succeeded');
    expect(await volumeOf(web)).to.include({ size: 1, status: 'available' });
  });

  it('rename, metadata set / unset (an absent key refused, nothing changed)', async () => {
    expect(jsonOf<{ volume: { name: string } }>(await alice('--json', 'volume', 'rename', 'web', 'web2')).volume.name).to.equal('web2');
    expect(jsonOf(await alice('--json', 'volume', 'metadata', 'set', 'web2', 'a=1', 'b=x=y'))).to.deep.equal({ metadata: { a: '1', b: 'x=y' } });
    expect(jsonOf(await alice('--json', 'volume', 'metadata', 'unset', 'web2', 'a'))).to.deep.equal({ metadata: { b: 'x=y' } });
    const r = await alice('--json', 'volume', 'metadata', 'unset', 'web2', 'zz');
    expect(r.code).to.equal(2);
    expect(errorOf(r).code).to.equal('INVALID_ARGUMENT');
    expect((await volumeOf(web)).metadata).to.deep.equal({ b: 'x=y' });
  });

  it('create --from-snapshot and clone, by names; create with neither --size nor a snapshot refused', async () => {
    const bare = await alice('--json', 'volume', 'create', '--name', 'sizeless');
    expect(bare.code).to.equal(2);
    expect(errorOf(bare).code).to.equal('INVALID_ARGUMENT');
    const [fromSnap, d1] = jsonDocs(await alice('--json', 'volume', 'create', '--from-snapshot', 's1', '--name', 'from-s1', '--wait'));
    expect(d1?.operation?.state).to.equal('succeeded');
    expect(await volumeOf(fromSnap?.volume?.id as string)).to.include({ size: 1, status: 'available', name: 'from-s1' });
    const [clone, d2] = jsonDocs(await alice('--json', 'volume', 'clone', 'web2', '--name', 'web-copy', '--wait'));
    expect(d2?.operation?.state).to.equal('succeeded');
    expect(await volumeOf(clone?.volume?.id as string)).to.include({ size: 1, status: 'available', name: 'web-copy' });
  });

  it('hostile arguments: a size not in decimal digits, a metadata key "__proto__", a directory as an archive: refused with a stable code, nothing changed', async () => {
    const before = await volumeOf(web);
    const count = async () => (await http.get('/v3/volumes').set(auth('alice')).expect(200)).body.volumes.length as number;
    const volumes = await count();
    // Number() took 0x10 as 16 GiB, and 1e400 went to the service as null.
    for (const size of ['0x10', '1e400', '1.5', '-1', 'NaN', ' ', '99999999999999999999']) {
      const created = await alice('--json', 'volume', 'create', '--size', size);
      expect(created.code, `create --size ${size}: ${created.stderr}`).to.equal(2);
      expect(errorOf(created).code).to.equal('INVALID_ARGUMENT');
      const extended = await alice('--json', 'volume', 'extend', web, size);
      expect(extended.code, `extend ${size}: ${extended.stderr}`).to.equal(2);
      expect(errorOf(extended).code).to.equal('INVALID_ARGUMENT');
    }
    // The key was dropped on the way (an empty set sent, exit 0); now the service's refusal comes back.
    const proto = await alice('--json', 'volume', 'metadata', 'set', web, '__proto__=x');
    expect(proto.code, proto.stderr).to.equal(1);
    expect(errorOf(proto).code).to.equal('INVALID_INPUT');
    // A directory opened, then failed at the first read with an unhandled stream error.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'qcs-cli-dir-'));
    try {
      const imported = await alice('--json', 'volume', 'import', dir);
      expect(imported.code, imported.stderr).to.equal(2);
      expect(errorOf(imported).code).to.equal('INVALID_ARGUMENT');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(await volumeOf(web)).to.deep.equal(before);
    expect(await count()).to.equal(volumes);
  });

  it('reset-state and force-delete (admin; a member is refused)', async () => {
    const r = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'doomed' } }).expect(202);
    const id = r.body.volume.id as string;
    await waits.settled('volumes', id, 'available');
    const refused = await alice('--json', 'volume', 'reset-state', 'doomed', '--state', 'error');
    expect(refused.code).to.equal(1);
    expect(errorOf(refused).code).to.equal('FORBIDDEN');
    expect(jsonOf<{ volume: { status: string } }>(await admin('--json', 'volume', 'reset-state', id, '--state', 'error')).volume.status).to.equal('error');
    expect(jsonDocs(await admin('--json', 'volume', 'force-delete', id, '--wait'))[1]?.operation?.state).to.equal('succeeded');
    await http.get(`/v3/volumes/${id}`).set(auth('alice')).expect(404);
  });
  it('export and import by names: the volume, --since a snapshot, --onto the earlier import; an unknown --onto refused before sending', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'qcs-cli-xfer-'));
    try {
      expect(jsonDocs(await alice('--json', 'volume', 'create', '--size', '1', '--name', 'xfer', '--wait'))[1]?.operation?.state).to.equal('succeeded');
      await waits.settled('snapshots', jsonDocs(await alice('--json', 'snapshot', 'create', 'xfer', '--name', 'x1', '--wait'))[0]?.snapshot?.id as string, 'available');
      const full = path.join(tmp, 'full.tar');
      expect((await alice('--json', 'volume', 'export', 'xfer', '-o', full, '--no-progress')).code).to.equal(0);
      const copy = jsonOf<{ volume: { id: string } }>(await alice('--json', 'volume', 'import', full, '--name', 'xfer-copy', '--no-progress')).volume.id;
      await waits.settled('snapshots', jsonDocs(await alice('--json', 'snapshot', 'create', 'xfer', '--name', 'x2', '--wait'))[0]?.snapshot?.id as string, 'available');
      const inc = path.join(tmp, 'inc.tar');
      const exported = await alice('--json', 'volume', 'export', 'xfer', '--since', 'x1', '-o', inc, '--no-progress');
      expect(exported.code, exported.stderr).to.equal(0);
      const snapshotsOfCopy = async () => (await http.get(`/v3/volumes/${copy}/tree`).set(auth('alice')).expect(200)).body.tree.snapshots as unknown[];
      const unknown = await alice('--json', 'volume', 'import', inc, '--onto', 'no-such-volume', '--no-progress');
      expect(unknown.code).to.equal(2);
      expect(errorOf(unknown).code).to.equal('NAME_NOT_FOUND');
      expect(await snapshotsOfCopy()).to.have.length(1);
      const onto = jsonOf<{ volume: { id: string; status: string } }>(await alice('--json', 'volume', 'import', inc, '--onto', 'xfer-copy', '--no-progress'));
      expect(onto.volume).to.include({ id: copy, status: 'available' });
      expect(await snapshotsOfCopy()).to.have.length(2);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
