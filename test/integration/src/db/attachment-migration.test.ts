/**
 * Migration 0005 (the attachments API) on SQLite and MariaDB, from data written in the schema
 * before it: existing attachment rows keep their facts and get a mode and timestamps; a volume
 * that is attached with no open row gets one; detached volumes get none.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { openDatabase, type Database } from '../../../../src/db/connection.js';
import { execute } from '../../../../src/db/direct-query.js';
import { migrate, migrateTo } from '../../../../src/db/migrate.js';
import { repositories } from '../../../../src/db/index.js';
import { BACKENDS, type TestDb } from '../../../fixtures/api/harness.js';

async function oldVolume(db: Database, id: string, status: string, attachStatus: string): Promise<void> {
  const at = new Date('2026-01-02T03:04:05.678Z');
  await execute(db, `INSERT INTO volumes (id, project_id, user_id, size, status, attach_status, format, metadata, bootable, deleted, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [id, 'p-old', 'u-old', 1, status, attachStatus, 'qcow2', '{}', false, false, at, at]);
}

for (const backend of BACKENDS) {
  describe(`db: migration 0005 attachment-api (${backend.name})`, function () {
    this.timeout(120_000);
    let tdb: TestDb;
    let db: Database;
    before(async () => {
      tdb = await backend.create();
      db = await openDatabase(tdb.config);
    });
    after(async () => {
      await db?.close();
      await tdb?.cleanup();
    });

    it('keeps existing rows, gives them a mode and timestamps, and gives orphan attached volumes a row', async () => {
      expect(await migrateTo(db, '0004-checkpoints')).to.include('0004-checkpoints');
      const [withRow, orphan, idle] = [randomUUID(), randomUUID(), randomUUID()];
      const instance = randomUUID();
      await oldVolume(db, withRow, 'in-use', 'attached');
      await oldVolume(db, orphan, 'in-use', 'attached');
      await oldVolume(db, idle, 'available', 'detached');
      const attachedAt = new Date('2026-02-03T04:05:06.789Z');
      const rowId = randomUUID();
      await execute(db, `INSERT INTO attachments (id, volume_id, instance_uuid, host, mountpoint, coordinator_endpoint, active_file, format, status, attached_at, detached_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [rowId, withRow, instance, 'c1', '/dev/vdb', 'https://c1:8780', `volume-${withRow}`, 'qcow2', 'attached', attachedAt, null]);

      expect(await migrate(db)).to.include('0009-attachment-api');
      const repos = repositories(db);
      const [kept] = await repos.attachments.openOf(withRow);
      expect(kept).to.include({ id: rowId, instanceUuid: instance, host: 'c1', mountpoint: '/dev/vdb', status: 'attached', attachMode: 'rw', connector: null });
      expect(kept?.createdAt.toISOString()).to.equal(attachedAt.toISOString());
      const made = await repos.attachments.openOf(orphan);
      expect(made).to.have.length(1);
      expect(made[0]).to.include({ volumeId: orphan, status: 'attached', attachMode: 'rw', instanceUuid: null, host: null });
      // Stamped in the form the dialect stores dates in (a bound JS Date must not become epoch text on SQLite).
      const stamped = made[0]?.createdAt.getTime() ?? NaN;
      expect(Math.abs(stamped - Date.now()), `created_at ${String(made[0]?.createdAt)}`).to.be.lessThan(10 * 60_000);
      expect(await repos.attachments.openOf(idle)).to.deep.equal([]);
      // The rows the volume view shows (active ones) are the same rows.
      expect((await repos.attachments.activeOf(orphan)).map((a) => a.id)).to.deep.equal([made[0]?.id]);
    });
  });
}
