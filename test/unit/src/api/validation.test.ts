import { expect } from 'chai';
import { faultBody, faultName } from '../../../../src/api/error-handler.js';
import { parseAction, snapshotActions, volumeActions } from '../../../../src/api/validation/actions.js';
import { createdNaming, parseSort, updatedNaming } from '../../../../src/api/validation/common.js';
import { parse } from '../../../../src/api/validation/parse.js';
import { volumeCreateBody } from '../../../../src/api/validation/volumes.js';
import { StorageError, isStorageError } from '../../../../lib/core/errors.js';
import { renderTree, progressBar } from '../../../../src/cli/render.js';

function thrown(fn: () => unknown): StorageError {
  try {
    fn();
  } catch (err) {
    if (isStorageError(err)) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('api validation (unit)', () => {
  it('parses Cinder sort forms and refuses unknown keys', () => {
    expect(parseSort('size:asc,name', undefined, undefined)).to.deep.equal([{ key: 'sizeGiB', dir: 'asc' }, { key: 'name', dir: 'desc' }]);
    expect(parseSort(undefined, 'created_at', 'asc')).to.deep.equal([{ key: 'createdAt', dir: 'asc' }]);
    expect(parseSort(undefined, undefined, undefined)).to.deep.equal([{ key: 'createdAt', dir: 'desc' }]);
    expect(parseSort('password:asc', undefined, undefined)).to.be.a('string');
  });

  it('accepts a coordinator job id <operation>~<n> as the operation of a commit request, nothing else', () => {
    const op = '2ae9e255-699a-43fa-88d1-7ea462e00998';
    for (const id of [op, `${op}~2`, `${op}~17`]) {
      expect(parseAction(snapshotActions, { 'os-request_commit': { operation_id: id, fencing_token: 3 } }).name).to.equal('os-request_commit');
    }
    for (const id of [`${op}~`, `${op}~0`, `${op}~2~3`, `x${op}`, 'op~2']) {
      expect(thrown(() => parseAction(snapshotActions, { 'os-request_commit': { operation_id: id, fencing_token: 3 } })).code, id).to.equal('INVALID_INPUT');
    }
  });

  it('reports every field problem with its path and a stable code', () => {
    const err = thrown(() => parse(volumeCreateBody(100), { volume: { size: 101, name: 5 } }, 'body'));
    expect(err.code).to.equal('INVALID_INPUT');
    expect((err.details.fields as { path: string }[]).map((f) => f.path).sort()).to.deep.equal(['body.volume.name', 'body.volume.size']);
    expect(thrown(() => parse(volumeCreateBody(100), { volume: { size: 0 } }, 'body')).code).to.equal('SIZE_OUT_OF_BOUNDS');
  });

  it('accepts exactly one known action per body', () => {
    expect(parseAction(volumeActions(10), { 'os-extend': { new_size: 3 } })).to.deep.equal({ name: 'os-extend', args: { new_size: 3 } });
    expect(thrown(() => parseAction(volumeActions(10), { 'os-extend': { new_size: 3 }, revert: {} })).code).to.equal('INVALID_INPUT');
    expect(thrown(() => parseAction(volumeActions(10), { constructor: {} })).code).to.equal('INVALID_INPUT');
    expect(thrown(() => parseAction(snapshotActions, { 'os-update_snapshot_status': { status: 'available', progress: '90' } })).code).to.equal('INVALID_INPUT');
    const ok = parseAction(snapshotActions, { 'os-update_snapshot_status': { status: 'creating', progress: '90%' } });
    expect(ok.name).to.equal('os-update_snapshot_status');
  });

  it('maps codes to OpenStack fault names with our code in the body', () => {
    expect(faultName(404)).to.equal('itemNotFound');
    expect(faultName(409)).to.equal('conflictingRequest');
    expect(faultName(413)).to.equal('overLimit');
    expect(faultName(500)).to.equal('computeFault');
    expect(faultBody(new StorageError('VOLUME_BUSY', 'busy'))).to.deep.equal({ conflictingRequest: { message: 'busy', code: 409, error_code: 'VOLUME_BUSY' } });
  });

  it('draws a snapshot tree with the active file under its snapshot, and a progress bar', () => {
    const tree = renderTree({ snapshots: [
      { id: 's1', parent: null, name: 'a', hidden: false, size: 1, status: 'available' },
      { id: 's2', parent: 's1', name: 'b', hidden: false, size: 1, status: 'available' },
    ], active_parent: 's1', active_file: 'volume-x.y' });
    expect(tree.split('\n')).to.deep.equal(['└─ s1 a 1 GiB available', '   ├─ s2 b 1 GiB available', '   └─ * active: volume-x.y']);
    expect(progressBar(50, 10)).to.equal('[#####.....]  50%');
  });
});

describe('api validation: Cinder\'s naming fields and their display_ aliases (unit)', () => {
  it('a create takes the v3 field, else its alias, else null', () => {
    expect(createdNaming({})).to.deep.equal({ name: null, description: null });
    expect(createdNaming({ display_name: 'old', display_description: 'd' })).to.deep.equal({ name: 'old', description: 'd' });
    expect(createdNaming({ name: 'new', display_name: 'old', description: null, display_description: 'd' })).to.deep.equal({ name: 'new', description: 'd' });
  });

  it('an update changes only what was sent; a present v3 field wins over its alias, null clears', () => {
    expect(updatedNaming({})).to.deep.equal({});
    expect(updatedNaming({ display_name: 'old' })).to.deep.equal({ name: 'old' });
    expect(updatedNaming({ name: null, display_name: 'old', description: 'd' })).to.deep.equal({ name: null, description: 'd' });
    expect(updatedNaming({ display_description: null })).to.deep.equal({ description: null });
  });
});
