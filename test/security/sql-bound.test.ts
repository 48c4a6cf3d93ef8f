/**
 * Values are bound by the database driver, never pasted into SQL: a representative workload (the
 * API with odd names, metadata, filters and markers, snapshots, attach/detach, deletes; the
 * recovery passes; the repository methods the API does not reach here) runs on SQLite and on
 * MariaDB while every statement text is recorded where it leaves for the database: sequelize's
 * `logging` hook on SQLite (every statement goes through sequelize.query there), mysql2's
 * Connection query/execute on MariaDB (direct-query.ts talks to mysql2 itself). No recorded
 * statement may hold a string literal (except the allow-listed constants below) or a number
 * literal other than 0 and 1, and none may contain any of the workload's values. (sequelize v6
 * binds Model.update's values, but writes those of findAll, count and destroy into the text: a
 * findAll or destroy put back into a repository fails this test.)
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import mysql2 from 'mysql2';
import { repairGhostSnapshots } from '../../src/api/usecases/ghost-snapshots.js';
import { settleInterruptedAttached } from '../../src/api/usecases/interrupted-attached.js';
import { settleAttaching } from '../../src/api/usecases/attachments/settle-attaching.js';
import { repairInterruptedOutcomes } from '../../src/api/usecases/interrupted-outcomes.js';
import { settleInterruptedVolumeOps } from '../../src/api/usecases/interrupted-volume-ops.js';
import { reapAbandoned } from '../../src/api/usecases/snapshot-metadata/reaper.js';
import { BACKENDS, auth, eventually, registerHost, testServiceHooks, type TestService } from '../fixtures/api/harness.js';
import { createVolume, waitOperation, waitSnapshot, waitVolume, waitVolumeGone } from '../fixtures/api/helpers.js';

type Dialect = 'sqlite' | 'mysql';

/**
 * Fixed constants: the sort value of a NULL name (paging.ts); the session time zone sequelize sets
 * on every MySQL connection (connection.ts `timezone`).
 */
const ALLOWED_STRINGS = new Set(["''", "'+00:00'"]);
/** LIMIT 1, token + 1, expires_at = 0, SELECT 1 (existence checks). */
const ALLOWED_NUMBERS = new Set(['0', '1']);

/**
 * The literals of one statement: quoted strings (single quotes; double quotes too on MySQL,
 * where they are strings, not identifiers) and numbers outside identifiers and placeholders.
 */
export function literalsOf(sql: string, dialect: Dialect): { strings: string[]; numbers: string[] } {
  const strings: string[] = [];
  let rest = '';
  for (let i = 0; i < sql.length;) {
    const ch = sql[i] as string;
    const isString = ch === "'" || (ch === '"' && dialect === 'mysql');
    const isIdent = ch === '`' || (ch === '"' && dialect === 'sqlite');
    if (!isString && !isIdent) { rest += ch; i++; continue; }
    let j = i + 1;
    for (; j < sql.length; j++) {
      if (isString && dialect === 'mysql' && sql[j] === '\\') { j++; continue; }
      if (sql[j] === ch) {
        if (sql[j + 1] === ch) { j++; continue; } // a doubled quote inside the literal
        break;
      }
    }
    if (isString) strings.push(sql.slice(i, j + 1));
    rest += ' ';
    i = j + 1;
  }
  const numbers = [...rest.matchAll(/(?<![\w$.])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.])/gi)].map((m) => m[0]);
  return { strings, numbers };
}

function offences(sql: string, dialect: Dialect, values: readonly string[]): string[] {
  const { strings, numbers } = literalsOf(sql, dialect);
  return [
    ...strings.filter((s) => !ALLOWED_STRINGS.has(s)).map((s) => `string literal ${s}`),
    ...numbers.filter((n) => !ALLOWED_NUMBERS.has(n)).map((n) => `number literal ${n}`),
    ...values.filter((v) => sql.includes(v)).map((v) => `value ${JSON.stringify(v)}`),
  ];
}

interface Capture { statements: string[]; stop(): void }

type QueryFn = (this: unknown, ...args: unknown[]) => unknown;

/** mysql2's query/execute take the SQL as a string or as { sql }. */
function sqlOf(arg: unknown): string {
  return typeof arg === 'string' ? arg : String((arg as { sql?: unknown })?.sql ?? '');
}

function capture(t: TestService, dialect: Dialect): Capture {
  const statements: string[] = [];
  if (dialect === 'sqlite') {
    const options = (t.svc.deps.repos.db.sequelize as unknown as { options: { logging: unknown } }).options;
    const before = options.logging;
    options.logging = (msg: string) => statements.push(msg.replace(/^Executing \([^)]*\): /, ''));
    return { statements, stop: () => { options.logging = before; } };
  }
  // Where mysql2 defines them (its BaseConnection): every pooled connection inherits them.
  let proto = (mysql2 as unknown as { Connection: { prototype: object } }).Connection.prototype;
  while (!Object.prototype.hasOwnProperty.call(proto, 'execute')) proto = Object.getPrototypeOf(proto) as object;
  const target = proto as Record<'query' | 'execute', QueryFn>;
  const original = { query: target.query, execute: target.execute };
  for (const name of ['query', 'execute'] as const) {
    const fn = original[name];
    target[name] = function (this: unknown, ...args: unknown[]) {
      statements.push(sqlOf(args[0]));
      return fn.apply(this, args);
    };
  }
  return { statements, stop: () => Object.assign(target, original) };
}

describe('security: SQL values bound by the driver, the literal check itself', () => {
  it('finds string and number literals and the workload values, not identifiers or placeholders', () => {
    expect(offences("SELECT `a` FROM `v` WHERE `id` = 'x' LIMIT 5", 'mysql', [])).to.deep.equal(['string literal \'x\'', 'number literal 5']);
    expect(offences('SELECT `a` FROM v WHERE id = "x"', 'mysql', [])).to.deep.equal(['string literal "x"']);
    expect(offences('SELECT "a1" FROM "t2" WHERE id = $1 AND b = ? LIMIT 1', 'sqlite', [])).to.deep.equal([]);
    expect(offences("UPDATE t SET n = 'it''s', m = 2.5 WHERE k = 'a\\'b'", 'mysql', [])).to.deep.equal(["string literal 'it''s'", "string literal 'a\\'b'", 'number literal 2.5']);
    expect(offences("SELECT COALESCE(`name`, '') FROM `v` WHERE id = ?", 'mysql', ['v-123'])).to.deep.equal([]);
    expect(offences('SELECT * FROM `vol-abc` WHERE id = ?', 'mysql', ['vol-abc'])).to.deep.equal(['value "vol-abc"']);
  });
});

for (const backend of BACKENDS) {
  describe(`security: every SQL value bound by the driver (${backend.name})`, function () {
    this.timeout(300_000);
    const t = testServiceHooks(backend);

    it('binds every value of a representative workload: no literal from a value in any statement', async () => {
      const dialect: Dialect = t.svc.deps.repos.db.dialect;
      const tag = `sb${randomUUID().slice(0, 8)}`;
      const name = `${tag} O'Brien "dq" \`bt\` back\\slash nul\u0000here 😀 ' OR '1'='1`;
      const description = `${tag}-desc'; DROP TABLE volumes; --`;
      const metadata = { [`${tag}-key'`]: `${tag}-val"😀\u0000`, plain: `${tag}-plain` };
      const host = `${tag}-host`;
      const instance = randomUUID();
      const cap = capture(t, dialect);
      const ids: string[] = [];
      try {
        // Volumes with odd names and metadata; updates; list filters, markers, counts.
        const a = await createVolume(t, 'alice', { size: 3, name, description, metadata });
        const b = await createVolume(t, 'alice', { size: 2, name, metadata: { [`${tag}-k2`]: '7' } });
        ids.push(a, b);
        const shown = await t.http.get(`/v3/volumes/${a}`).set(auth('alice'));
        expect([shown.body.volume.name, shown.body.volume.description, shown.body.volume.metadata]).to.deep.equal([name, description, metadata]);
        await t.http.put(`/v3/volumes/${b}`).set(auth('alice')).send({ volume: { description: `${tag}-upd'`, metadata: { [`${tag}-k3`]: `${tag}-v3` } } }).expect(200);
        const page1 = await t.http.get('/v3/volumes/detail').query({ name, status: 'available', limit: 1, sort: 'size:desc', with_count: true }).set(auth('alice'));
        expect([page1.status, page1.body.volumes.map((v: { id: string }) => v.id), page1.body.count]).to.deep.equal([200, [a], 2]);
        const page2 = await t.http.get('/v3/volumes/detail').query({ name, limit: 1, sort: 'size:desc', marker: a }).set(auth('alice'));
        expect(page2.body.volumes.map((v: { id: string }) => v.id)).to.deep.equal([b]);
        const badMarker = await t.http.get('/v3/volumes').query({ marker: `${tag}-nomarker'`, limit: 1 }).set(auth('alice'));
        expect(badMarker.status).to.equal(400);
        // Snapshots: create, list by volume and name with a marker, rename, delete.
        const snapName = `${tag} snap 'x' 😀`;
        const snaps: string[] = [];
        for (let i = 0; i < 2; i++) {
          const r = await t.http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: a, name: snapName, description: `${tag}-sd${i}` } });
          expect(r.status, JSON.stringify(r.body)).to.equal(202);
          snaps.push(r.body.snapshot.id as string);
          await waitSnapshot(t, r.body.snapshot.id as string, 'available', 'alice');
        }
        ids.push(...snaps);
        const listed = await t.http.get('/v3/snapshots/detail').query({ volume_id: a, name: snapName, limit: 1, sort: 'created_at:asc', with_count: true }).set(auth('alice'));
        expect([listed.body.snapshots.map((s: { id: string }) => s.id), listed.body.count]).to.deep.equal([[snaps[0]], 2]);
        const next = await t.http.get('/v3/snapshots').query({ volume_id: a, limit: 5, sort: 'created_at:asc', marker: snaps[0] }).set(auth('alice'));
        expect(next.body.snapshots.map((s: { id: string }) => s.id)).to.deep.equal([snaps[1]]);
        await t.http.put(`/v3/snapshots/${snaps[1]}`).set(auth('alice')).send({ snapshot: { name: `${tag}-renamed'` } }).expect(200);
        await t.http.delete(`/v3/snapshots/${snaps[1]}`).set(auth('alice')).expect(202);
        await eventually(async () => ((await t.http.get(`/v3/snapshots/${snaps[1]}`).set(auth('alice'))).status === 404 ? true : undefined));
        // Attach / detach bookkeeping, through a registered host.
        await registerHost(t, host, `http://${host}:8777`);
        const att = { instance_uuid: instance, mountpoint: `/dev/${tag}`, host_name: host, format: 'qcow2' };
        const attached = await t.http.post(`/v3/volumes/${b}/action`).set(auth('alice')).send({ 'os-attach': att });
        expect(attached.status, JSON.stringify(attached.body)).to.equal(202);
        await waitVolume(t, b, 'in-use');
        const withAtt = await t.http.get('/v3/volumes/detail').query({ name }).set(auth('alice'));
        expect(withAtt.body.volumes.find((v: { id: string }) => v.id === b).attachments[0].server_id).to.equal(instance);
        await t.http.post(`/v3/volumes/${b}/action`).set(auth('alice')).send({ 'os-detach': {} }).expect(202);
        await waitVolume(t, b, 'available');
        // Admin actions and deletes.
        await t.http.post(`/v3/volumes/${b}/action`).set(auth('admin')).send({ 'os-reset_status': { status: 'error' } }).expect(202);
        await waitVolume(t, b, 'error');
        const forced = await t.http.post(`/v3/volumes/${b}/action`).set(auth('admin')).send({ 'os-force_delete': {} });
        expect(forced.status).to.equal(202);
        await waitOperation(t, forced.headers['x-operation-id'] as string);
        await waitVolumeGone(t, b);
        // The recovery passes (nothing is interrupted: their scans and lookups still run).
        const deps = t.svc.deps;
        await repairInterruptedOutcomes(deps, 0);
        await settleInterruptedVolumeOps(deps, 0);
        await reapAbandoned(deps);
        await settleInterruptedAttached(deps);
        await settleAttaching(deps);
        await repairGhostSnapshots(deps);
        // Repository methods this workload does not reach through the API (manage, unmanage, metrics).
        const r = deps.repos;
        const c = randomUUID();
        ids.push(c);
        await r.volumes.insert({
          id: c, projectId: `${tag}-proj`, userId: `${tag}-user`, name: `${tag}-managed'`, description: null, sizeGiB: 5,
          status: 'available', attachStatus: 'detached', providerLocation: `${tag}-share:/x`, format: 'qcow2', metadata: {}, bootable: true,
        });
        expect(await r.volumes.countByProject(`${tag}-proj`)).to.equal(1);
        expect((await r.volumes.rowsOf([c, a, `${tag}-none`])).size).to.equal(2);
        expect(await r.volumes.transition(c, ['available', 'error'], { status: 'deleting' })).to.equal(true);
        await r.attachments.insert({ id: randomUUID(), volumeId: c, instanceUuid: instance, host, mountpoint: '/dev/vdc', coordinatorEndpoint: `http://${host}:8777`, activeFile: `volume-${c}`, format: 'qcow2', status: 'attached', attachedAt: new Date() });
        expect([...(await r.attachments.activeOfMany([c, a])).keys()]).to.deep.equal([c]);
        expect(await r.attachments.attachedVolumeIds()).to.include(c);
        await r.attachments.detachAll(c);
        // Checkpoint rows (os-checkpoints) and the instance lookup that finds their host.
        expect((await r.attachments.activeOfInstance(instance)).map((x) => x.volumeId)).to.not.include(c);
        const ck = randomUUID();
        ids.push(ck);
        await r.checkpoints.insert({
          id: ck, projectId: `${tag}-proj`, instanceUuid: instance, hostName: host, name, description, mode: 'consistent', status: 'creating',
          memorySize: null, definitionSha256: null, volumes: [{ volumeId: c, target: 'vdb', snapshotPoint: `volume-${c}.${tag}`, snapshotId: null }],
        });
        await r.checkpoints.bindCoordinatorId(ck, randomUUID());
        await r.checkpoints.update(ck, { status: 'available', memorySize: 4096, definitionSha256: `${tag}-digest'`, error: `${tag}-err'` });
        const move = { from: host, to: `${tag}-to'`, oldHost: 'declared-down' as const, by: `${tag}-by'`, at: `${tag}-at'`, state: 'intended' as const };
        await r.checkpoints.update(ck, { hostMove: move });
        expect((await r.checkpoints.get(ck))?.hostMove).to.deep.equal(move);
        expect(await r.checkpoints.transition(ck, ['available', 'error'], 'deleting')).to.equal(true);
        expect((await r.checkpoints.list(`${tag}-proj`, instance)).map((x) => [x.id, x.name, x.status])).to.deep.equal([[ck, name, 'deleting']]);
        expect(await r.checkpoints.exists(ck)).to.equal(true);
        await r.checkpoints.remove(ck);
        expect(await r.checkpoints.get(ck)).to.equal(null);
        await r.snapshots.insertFound({ id: randomUUID(), volumeId: c, projectId: `${tag}-proj`, userId: `${tag}-user`, name: null, description: null, sizeGiB: 5, status: 'available', progress: 100, metadata: {}, hidden: true }, undefined);
        expect(await r.snapshots.countVisible(c)).to.equal(0);
        expect((await r.snapshots.ofVolume(c)).length).to.equal(1);
        expect(await r.snapshots.existingIds([...snaps, `${tag}-none`])).to.deep.equal([...snaps].sort());
        expect(await r.snapshots.volumeIdsWithStatus(['available'])).to.include(c);
        await r.snapshots.markDeletingOfVolume(c);
        await r.snapshots.markDeletedOfVolume(c);
        await r.snapshots.purgeOfVolume(c);
        await r.attachments.purgeOfVolume(c);
        await r.volumes.purge(c);
        expect(await r.volumes.rowsOf([c])).to.deep.equal(new Map());
        expect(await r.operations.finishedBefore(new Date(Date.now() + 60_000))).to.be.greaterThan(0);
        expect((await r.operations.countByState()).succeeded).to.be.greaterThan(0);
        expect(await r.operations.latestRunningOf(a, 'snapshot_metadata')).to.equal(null);
        expect((await r.operations.latestOfSnapshot(a, snaps[0] as string))?.kind).to.equal('create_snapshot');
        await r.volumes.markDeleted(a);
      } finally {
        cap.stop();
      }
      const statements = cap.statements;
      // The capture saw the workload: statements on every table, IN lists, writes and reads.
      for (const table of ['volumes', 'snapshots', 'attachments', 'operations', 'leases', 'compute_hosts']) {
        expect(statements.some((s) => s.includes(table)), `a statement on ${table}`).to.equal(true);
      }
      for (const kind of ['SELECT', 'INSERT', 'UPDATE', 'DELETE']) expect(statements.some((s) => s.startsWith(kind)), kind).to.equal(true);
      expect(statements.some((s) => / IN \((\?|\$\d+), (\?|\$\d+)/.test(s)), 'an IN list of placeholders').to.equal(true);
      const values = [tag, ...ids, instance, 'p-alice', 'u-alice', '😀', '\u0000', 'O\'Brien'];
      const bad = statements.map((s) => ({ s, o: offences(s, dialect, values) })).filter((x) => x.o.length > 0);
      expect(bad.map((x) => `${x.o.join(', ')} in: ${x.s.slice(0, 300)}`), `${bad.length} of ${statements.length} statements`).to.deep.equal([]);
    });
  });
}
