/**
 * The coordinator's chain preflight on real qemu-img files (issue 11 item 4, coordinator side):
 * before a live create, a live merge or an attach, every file QEMU follows is checked by its
 * header. A hostile file swapped into the chain (at the top, a middle layer, the base) refuses
 * the job with a stable code before anything reaches libvirt; the intact chain passes.
 *
 *   volume-V (base) <- volume-V.S1 <- volume-V.S2 (live top)      [+ volume-V.S3, the new overlay of a create]
 */
import { expect } from 'chai';
import { chmod, mkdtemp, readdir, rename, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../../lib/core/process.js';
import { imgCreate } from '../../../lib/qemu/img.js';
import { checkChainForQemu } from '../../../coordinator/attach/chain-access.js';
import { inspectOverlay } from '../../../coordinator/inspect.js';
import { buildAssistedSnapshotJob, buildMergeJob, type BuildDeps } from '../../../coordinator/jobs/build-jobs.js';
import { verifyLiveChain } from '../../../coordinator/snapshot/preflight.js';
import { expectCode } from '../../fixtures/drivers/harness.js';
import { HOSTILE_BACKINGS, type HostileKind } from '../../fixtures/drivers/hostile.js';
import { FakeClock } from '../../fixtures/coordinator/fake-clock.js';
import { FakeLibvirt } from '../../fixtures/coordinator/fake-libvirt.js';
import { DOM, OP, S1, S2, S3, VOL, f } from '../../fixtures/coordinator/context.js';

const SIZE = 64 * 1024 * 1024;

const KINDS: HostileKind[] = [
  ...HOSTILE_BACKINGS,
  {
    label: 'external data file with data_file_raw=on', code: 'IMAGE_DATA_FILE',
    make: (file, scratch, _v, n) => run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${path.join(scratch, 'raw-data')},data_file_raw=on`, file, String(n)]).then(() => undefined),
  },
  { label: 'a 1 PiB virtual size below the top', code: 'IMAGE_SIZE_MISMATCH', make: (file) => run('qemu-img', ['create', '-q', '-f', 'qcow2', file, '1P']).then(() => undefined) },
  { label: 'a symlink to /etc/passwd', code: 'FILE_UNSAFE', make: (file) => symlink('/etc/passwd', file) },
];

describe('coordinator: chain preflight before live create, live merge and attach (real qemu-img files)', function () {
  this.timeout(120_000);
  let dir: string;
  let scratch: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coord-preflight-'));
    scratch = await mkdtemp(path.join(os.tmpdir(), 'coord-preflight-scratch-'));
    await imgCreate({ path: path.join(dir, f()), format: 'qcow2', sizeBytes: SIZE });
    await imgCreate({ path: path.join(dir, f(S1)), format: 'qcow2', sizeBytes: SIZE, backingFile: f(), backingFormat: 'qcow2' });
    await imgCreate({ path: path.join(dir, f(S2)), format: 'qcow2', sizeBytes: SIZE, backingFile: f(S1), backingFormat: 'qcow2' });
    await imgCreate({ path: path.join(dir, f(S3)), format: 'qcow2', sizeBytes: SIZE, backingFile: f(S2), backingFormat: 'qcow2' });
    // What storage.fileMode gives on a share: the QEMU user can open the files (checked at attach).
    await chmod(dir, 0o755);
    for (const n of await readdir(dir)) await chmod(path.join(dir, n), 0o666);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  function deps(): BuildDeps & { libvirt: FakeLibvirt } {
    const clock = new FakeClock();
    const libvirt = new FakeLibvirt(DOM, [{ target: 'vdb', serial: VOL, dir, chain: [f(S2), f(S1), f()] }], clock);
    return { port: libvirt, clock, inspect: inspectOverlay, verifyChain: verifyLiveChain, libvirt };
  }
  const create = (d: BuildDeps) => buildAssistedSnapshotJob(d, {
    volumeId: VOL, snapshotId: S3, newFile: f(S3), expectedTop: f(S2), operationId: OP, fencingToken: 1, quiesce: 'off', dialect: 'ours',
  }, DOM);
  const merge = (d: BuildDeps) => buildMergeJob(d, {
    operation_id: OP, fencing_token: 1, volume_id: VOL, snapshot_id: S1, operation: 'pull', top: f(S2), base: f(),
    expected_chain: [f(S2), f(S1), f()], result_chain: [f(S2), f()],
  }, 'ours', DOM);
  const attach = () => checkChainForQemu(dir, f(S2), VOL, 'qcow2');

  it('the intact chain passes: a create job, a merge job, the attach check', async () => {
    const d = deps();
    expect((await create(d)).state).to.equal('validated');
    expect((await merge(d)).state).to.equal('validated');
    expect(await attach()).to.deep.equal([f(S2), f(S1), f()]);
    expect(d.libvirt.calls.filter((c) => c !== 'xml'), 'libvirt calls beyond reading the domain').to.deep.equal([]);
  });

  for (const kind of KINDS) {
    for (const at of ['top', 'middle', 'base'] as const) {
      // The coordinator knows no recorded size for the live top (the storage side checks it
      // against the info file before it answers the connection or prepares the overlay).
      if (kind.code === 'IMAGE_SIZE_MISMATCH' && at === 'top') continue;
      it(`${kind.label} at the ${at}: create, merge and attach refused (${kind.code}), libvirt never changed`, async () => {
        const file = path.join(dir, at === 'top' ? f(S2) : at === 'middle' ? f(S1) : f());
        await rename(file, `${file}-intact`);
        await kind.make(file, scratch, VOL, SIZE);
        const d = deps();
        await expectCode(create(d), kind.code);
        await expectCode(merge(d), kind.code);
        await expectCode(attach(), kind.code);
        expect(d.libvirt.calls.filter((c) => c !== 'xml'), 'libvirt calls beyond reading the domain').to.deep.equal([]);
      });
    }
  }

  it('headers naming another own file than the live chain: refused (IMAGE_UNSAFE_BACKING, differs-from-live-chain)', async () => {
    const stray = f('ffffffff-1111-4222-8333-444444444444');
    await imgCreate({ path: path.join(dir, stray), format: 'qcow2', sizeBytes: SIZE });
    await run('qemu-img', ['rebase', '-q', '-u', '-f', 'qcow2', '-b', stray, '-F', 'qcow2', path.join(dir, f(S1))]);
    const d = deps();
    await expectCode(create(d), 'IMAGE_UNSAFE_BACKING');
    await expectCode(merge(d), 'IMAGE_UNSAFE_BACKING');
    expect(d.libvirt.calls.filter((c) => c !== 'xml'), 'libvirt calls beyond reading the domain').to.deep.equal([]);
  });
});
