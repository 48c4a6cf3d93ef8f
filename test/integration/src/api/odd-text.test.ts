/**
 * Reproduction 5 (issue 11): names, descriptions and metadata with a NUL, other control
 * characters, astral-plane characters and the longest allowed strings, on SQLite and MariaDB.
 * Values reach the database bound (never escaped into the SQL text), so every accepted string is
 * stored and returned exactly; what cannot be stored exactly (lone UTF-16 surrogates: no UTF-8
 * form) is refused with 400 INVALID_INPUT and changes nothing. Error replies carry no database
 * text.
 */
import { expect } from 'chai';
import { BACKENDS, auth, startTestService, type TestDb, type TestService } from '../../../fixtures/api/harness.js';
import { createSnapshot, createVolume, waitSnapshot } from '../../../fixtures/api/helpers.js';

const KEPT = [
  'a\u0000b', '\u0000', 'tab\there', 'line\nbreak\r\n', '\u0001\u001f\u007f\u0085\u2028',
  "quote ' \" ` \\ $1 ? %s ; --", 'emoji 🦀 𝕏 and 中文', 'x'.repeat(255), '🦀'.repeat(255),
];
const REFUSED = ['lone \ud800 surrogate', 'trailing \udfff', 'x'.repeat(256)];

for (const backend of BACKENDS) {
  describe(`security: odd characters in names, descriptions, metadata (${backend.name})`, function () {
    this.timeout(300_000);
    let db: TestDb;
    let t: TestService;
    let volumeId: string;
    let snapshotId: string;
    before(async () => {
      db = await backend.create();
      t = await startTestService(db.config);
      volumeId = await createVolume(t);
      snapshotId = await createSnapshot(t, volumeId);
    });
    after(async () => {
      await t?.stop();
      await db?.cleanup();
    });

    for (const [i, text] of KEPT.entries()) {
      it(`stores and returns exactly kept string #${i} (update, create, metadata)`, async () => {
        const put = await t.http.put(`/v3/snapshots/${snapshotId}`).set(auth('alice')).send({ snapshot: { name: text, description: text } });
        expect(put.status, JSON.stringify(put.body)).to.equal(200);
        const shown = await t.http.get(`/v3/snapshots/${snapshotId}`).set(auth('alice'));
        expect(shown.body.snapshot.name).to.equal(text);
        expect(shown.body.snapshot.description).to.equal(text);

        const created = await t.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: text, description: text, metadata: { [text]: text } } });
        expect(created.status, JSON.stringify(created.body)).to.equal(202);
        const vol = await t.http.get(`/v3/volumes/${created.body.volume.id}`).set(auth('alice'));
        expect(vol.body.volume.name).to.equal(text);
        expect(vol.body.volume.description).to.equal(text);
        expect(vol.body.volume.metadata).to.deep.equal({ [text]: text });

        const snap = await t.http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: volumeId, name: text, description: text } });
        expect(snap.status, JSON.stringify(snap.body)).to.equal(202);
        const done = await waitSnapshot(t, snap.body.snapshot.id as string, 'available');
        expect(done.name).to.equal(text);
      });
    }

    for (const [i, text] of REFUSED.entries()) {
      it(`refuses string #${i} with 400 INVALID_INPUT and changes nothing`, async () => {
        const before = (await t.http.get(`/v3/snapshots/${snapshotId}`).set(auth('alice'))).body;
        for (const body of [{ name: text }, { description: text }]) {
          const put = await t.http.put(`/v3/snapshots/${snapshotId}`).set(auth('alice')).send({ snapshot: body });
          expect(put.status, JSON.stringify(put.body)).to.equal(400);
          expect(put.body.badRequest.error_code).to.equal('INVALID_INPUT');
        }
        const created = await t.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, metadata: { k: text } } });
        expect(created.status, JSON.stringify(created.body)).to.equal(400);
        const after = (await t.http.get(`/v3/snapshots/${snapshotId}`).set(auth('alice'))).body;
        expect(after).to.deep.equal(before);
      });
    }

    it('finds a NUL name through the list filter as data, not SQL', async () => {
      const r = await t.http.get(`/v3/volumes?name=${encodeURIComponent("x' OR '1'='1")}`).set(auth('alice'));
      expect(r.status).to.equal(200);
      expect(r.body.volumes).to.deep.equal([]);
    });
  });
}
