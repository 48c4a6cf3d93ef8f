/**
 * The pure parts of cloning an attached volume: the temporary snapshot's marker, the recovery
 * plan of an interrupted clone, and the coordinator job ids of the clone's two live steps.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { isStorageError } from '../../../../lib/core/errors.js';
import type { SnapshotStatus, VolumeStatus } from '../../../../src/db/records.js';
import { planCloneRecovery } from '../../../../src/api/usecases/clone-attached/recovery-plan.js';
import { assertNotTemporary, temporaryFieldsOf, temporaryOwner, temporarySnapshotFields } from '../../../../src/api/usecases/clone-attached/temporary-snapshot.js';
import { OperationIds } from '../../../../drivers/remotefs/online/operation-ids.js';

describe('clone of an attached volume: planning', () => {
  describe('temporary snapshot marker', () => {
    it('round-trips the owner and refuses use of the snapshot', () => {
      const owner = { cloneVolumeId: randomUUID(), cloneOperationId: randomUUID() };
      const fields = temporarySnapshotFields(owner);
      expect(fields.name).to.equal(`clone-${owner.cloneVolumeId}`);
      expect(temporaryOwner(fields)).to.deep.equal(owner);
      let thrown: unknown;
      try { assertNotTemporary({ id: 's1', metadata: fields.metadata }, 'revert'); } catch (err) { thrown = err; }
      expect(isStorageError(thrown, 'INVALID_STATE')).to.equal(true);
      expect((thrown as { details: { reason: string } }).details.reason).to.equal('TEMPORARY_SNAPSHOT');
    });

    it('an export\'s temporary snapshot is refused too, and has no clone to settle', () => {
      const fields = temporaryFieldsOf({ exportId: 'e1' });
      expect(fields.name).to.equal('export-e1');
      expect(temporaryOwner(fields)).to.equal(null);
      let thrown: unknown;
      try { assertNotTemporary({ id: 's1', metadata: fields.metadata }, 'create a volume'); } catch (err) { thrown = err; }
      expect(isStorageError(thrown, 'INVALID_STATE')).to.equal(true);
      expect((thrown as { details: { reason: string; export_id: string } }).details).to.include({ reason: 'TEMPORARY_SNAPSHOT', export_id: 'e1' });
    });

    it('does not mistake a user snapshot for a temporary one (partial or foreign metadata)', () => {
      expect(temporaryOwner({ metadata: {} })).to.equal(null);
      expect(temporaryOwner({ metadata: { 'qcowshare:temporary': 'clone' } })).to.equal(null);
      expect(temporaryOwner({ metadata: { 'qcowshare:temporary': 'other', 'qcowshare:clone_volume': 'v', 'qcowshare:clone_operation': 'o' } })).to.equal(null);
      expect(() => assertNotTemporary({ id: 's', metadata: { purpose: 'backup' } }, 'revert')).not.to.throw();
    });
  });

  describe('recovery plan of an interrupted clone', () => {
    const plan = (snapshotStatus: SnapshotStatus | null, commitPointPassed: boolean, cloneStatus: VolumeStatus | null = 'creating') =>
      planCloneRecovery({ snapshotStatus, commitPointPassed, cloneStatus });

    it('abandons an overlay the guest never switched to, leaves one it may have', () => {
      expect(plan('creating', false).snapshot).to.equal('abandon_overlay');
      expect(plan('creating', true).snapshot).to.equal('leave');
    });

    it('deletes a recorded temporary snapshot, resuming an interrupted delete', () => {
      expect(plan('available', true).snapshot).to.equal('delete');
      expect(plan('deleting', true).snapshot).to.equal('delete');
    });

    it('leaves a failed delete to an admin and has nothing to do without a row', () => {
      expect(plan('error_deleting', true).snapshot).to.equal('leave');
      expect(plan('error', false).snapshot).to.equal('leave');
      expect(plan(null, true).snapshot).to.equal('none');
    });

    it('fails only a clone still being created', () => {
      expect(plan('available', true, 'creating').failClone).to.equal(true);
      expect(plan('available', true, 'available').failClone).to.equal(false);
      expect(plan('available', true, 'error').failClone).to.equal(false);
      expect(plan('available', true, null).failClone).to.equal(false);
    });
  });

  describe('coordinator job ids of one operation over two driver calls', () => {
    const op = randomUUID();
    it('starts at the operation id, and at <id>~<n> when continued', () => {
      const create = new OperationIds({ operationId: op });
      expect(create.next()).to.equal(op);
      const del = new OperationIds({ operationId: `${op}~2` });
      expect([del.next(), del.next(), del.next()]).to.deep.equal([`${op}~2`, `${op}~3`, `${op}~4`]);
    });

    it('takes the operation id and token from the lease as before', () => {
      const ids = new OperationIds({ lease: { resource: randomUUID(), holder: `op:${op}`, token: 7, expiresAt: 0 } });
      expect(ids.fencingToken).to.equal(7);
      expect([ids.next(), ids.next()]).to.deep.equal([op, `${op}~2`]);
    });
  });
});
