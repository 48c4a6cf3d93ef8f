import { expect } from 'chai';
import type { MergePlan } from '../../../lib/protocol/assisted-snapshot.js';
import { isStorageError } from '../../../lib/core/errors.js';
import { parseDomainXml, type LiveDisk } from '../../../coordinator/domain/disks.js';
import { validateCreate } from '../../../coordinator/plans/create-plan.js';
import { planFromNovaDelete, resultChainOf, validateMergePlan } from '../../../coordinator/plans/merge-plan.js';
import { isOwnFileName, isOwnOverlayName } from '../../../lib/core/volume-names.js';
import { domainXml, type FakeDisk } from '../../fixtures/coordinator/fake-libvirt.js';
import { DIR, DOM, OP, S1, S2, S3, VOL, f, headers } from '../../fixtures/coordinator/context.js';

function disk(chain: string[], extra: Partial<FakeDisk> = {}): LiveDisk {
  return parseDomainXml(domainXml(DOM, 'g', [{ target: 'vdb', serial: VOL, dir: DIR, chain, ...extra }])).disks[0] as LiveDisk;
}

function plan(p: Partial<MergePlan>): MergePlan {
  const base: MergePlan = {
    operation_id: OP, fencing_token: 1, volume_id: VOL, snapshot_id: S1, operation: 'commit',
    top: f(S2), base: f(S1), expected_chain: [f(S3), f(S2), f(S1), f()], result_chain: [],
  };
  const merged = { ...base, ...p };
  return { ...merged, result_chain: p.result_chain ?? resultChainOf(merged) };
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(isStorageError(err) ? err.code : String(err)).to.equal(code);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe('coordinator: volume file names', () => {
  it('accepts only bare names of the volume itself', () => {
    expect(isOwnFileName(f(), VOL)).to.equal(true);
    expect(isOwnOverlayName(f(S1), VOL)).to.equal(true);
    expect(isOwnOverlayName(f(), VOL)).to.equal(false);
    for (const bad of [`volume-${VOL}/x`, `volume-${VOL}.${S1}/../x`, `volume-${VOL}x${S1}`, `volume-${S1}.${S2}`, `../${f(S1)}`, `${f(S1)}.tmp`]) {
      expect(isOwnFileName(bad, VOL), bad).to.equal(false);
    }
  });
});

describe('coordinator: merge plans against the live chain', () => {
  const chain = [f(S3), f(S2), f(S1), f()];

  it('computes the chain each operation leaves', () => {
    expect(resultChainOf({ operation: 'commit', top: f(S2), base: f(S1), expected_chain: chain })).to.deep.equal([f(S3), f(S1), f()]);
    expect(resultChainOf({ operation: 'active_commit', top: f(S3), base: f(S2), expected_chain: chain })).to.deep.equal([f(S2), f(S1), f()]);
    expect(resultChainOf({ operation: 'pull', top: f(S3), base: f(S1), expected_chain: chain })).to.deep.equal([f(S3), f(S1), f()]);
    expect(resultChainOf({ operation: 'pull', top: f(S3), base: null, expected_chain: chain })).to.deep.equal([f(S3)]);
  });

  it('accepts a plan that matches the live chain', () => {
    expect(validateMergePlan(plan({}), disk(chain))).to.deep.equal({ dir: DIR });
  });

  it('refuses a plan whose expected chain differs from the live one (PLAN_MISMATCH)', async () => {
    await rejectsWith(() => validateMergePlan(plan({}), disk([f(S2), f(S1), f()])), 'PLAN_MISMATCH');
    await rejectsWith(() => validateMergePlan(plan({}), disk([f(S3), f(S1), f(S2), f()])), 'PLAN_MISMATCH');
  });

  it('refuses a result chain that the operation does not produce', async () => {
    await rejectsWith(() => validateMergePlan(plan({ result_chain: [f(S3), f(S2), f()] }), disk(chain)), 'PLAN_MISMATCH');
  });

  it('refuses incoherent plans (commit of the active file, base above top)', async () => {
    await rejectsWith(() => validateMergePlan(plan({ top: f(S3), base: f(S2), result_chain: [f(S2)] }), disk(chain)), 'PLAN_MISMATCH');
    await rejectsWith(() => validateMergePlan(plan({ top: f(S1), base: f(S2), result_chain: [f(S3)] }), disk(chain)), 'PLAN_MISMATCH');
  });

  it('refuses a disk that already runs a block job (CONFLICT)', async () => {
    const busy = disk(chain, { mirror: { job: 'active-commit', ready: null, file: `${DIR}/${f(S2)}` } });
    await rejectsWith(() => validateMergePlan(plan({}), busy), 'CONFLICT');
  });

  it("translates Nova's delete_info with Nova's meaning", () => {
    const live = disk(chain);
    const pull = planFromNovaDelete({ type: 'qcow2', volume_id: VOL, file_to_merge: f(S1), merge_target_file: null }, S2, live);
    expect(pull).to.include({ operation: 'pull', top: f(S3), base: f(S1) });
    expect(pull.result_chain).to.deep.equal([f(S3), f(S1), f()]);
    const flatten = planFromNovaDelete({ type: 'qcow2', volume_id: VOL, file_to_merge: null, merge_target_file: null }, S2, live);
    expect(flatten.result_chain).to.deep.equal([f(S3)]);
    const commit = planFromNovaDelete({ type: 'qcow2', volume_id: VOL, file_to_merge: f(S2), merge_target_file: f(S1) }, S1, live);
    expect(commit).to.include({ operation: 'commit', top: f(S2), base: f(S1) });
    const active = planFromNovaDelete({ type: 'qcow2', volume_id: VOL, file_to_merge: f(S3), merge_target_file: f(S2) }, S2, live);
    expect(active.operation).to.equal('active_commit');
    expect(() => planFromNovaDelete({ type: 'qcow2', volume_id: VOL, file_to_merge: f('ffffffff-1111-4222-8333-444444444444'), merge_target_file: f(S1) }, S1, live))
      .to.throw(/not in the live chain/);
  });
});

describe('coordinator: create plans against the live top', () => {
  const live = () => disk([f(S1), f()]);
  const good = { [`${DIR}/${f(S2)}`]: { format: 'qcow2', backingFile: f(S1), backingFormat: 'qcow2', externalDataFile: false } };

  it('accepts an overlay backed by the live top with its format', async () => {
    const v = await validateCreate({ volumeId: VOL, newFile: f(S2), expectedTop: f(S1) }, live(), headers(good));
    expect(v).to.deep.equal({ target: 'vdb', newPath: `${DIR}/${f(S2)}`, oldTop: f(S1) });
  });

  it('refuses a wrong backing name, format, missing file or data file', async () => {
    const p = `${DIR}/${f(S2)}`;
    const cases = [
      [{ format: 'qcow2', backingFile: f(), backingFormat: 'qcow2', externalDataFile: false }, 'PLAN_MISMATCH'],
      [{ format: 'qcow2', backingFile: `${DIR}/${f(S1)}`, backingFormat: 'qcow2', externalDataFile: false }, 'PLAN_MISMATCH'],
      [{ format: 'qcow2', backingFile: f(S1), backingFormat: 'raw', externalDataFile: false }, 'PLAN_MISMATCH'],
      [{ format: 'raw', externalDataFile: false }, 'PLAN_MISMATCH'],
      [{ format: 'qcow2', backingFile: f(S1), backingFormat: 'qcow2', externalDataFile: true }, 'IMAGE_DATA_FILE'],
    ] as const;
    for (const [h, code] of cases) await rejectsWith(validateCreate({ volumeId: VOL, newFile: f(S2) }, live(), headers({ [p]: h })), code);
    await rejectsWith(validateCreate({ volumeId: VOL, newFile: f(S3) }, live(), headers(good)), 'PLAN_MISMATCH');
  });

  it('refuses a name of another volume, a path, a live layer or a wrong expected top', async () => {
    await rejectsWith(validateCreate({ volumeId: VOL, newFile: `volume-${S1}.${S2}` }, live(), headers(good)), 'IMAGE_UNSAFE_BACKING');
    await rejectsWith(validateCreate({ volumeId: VOL, newFile: `${f(S2)}/x` }, live(), headers(good)), 'IMAGE_UNSAFE_BACKING');
    await rejectsWith(validateCreate({ volumeId: VOL, newFile: f(S1) }, live(), headers(good)), 'PLAN_MISMATCH');
    await rejectsWith(validateCreate({ volumeId: VOL, newFile: f(S2), expectedTop: f() }, live(), headers(good)), 'PLAN_MISMATCH');
  });
});
