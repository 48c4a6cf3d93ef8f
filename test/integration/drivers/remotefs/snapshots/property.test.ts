/**
 * Property: any sequence of create, delete, revert, extend and writes (data and zeroes) keeps
 * every visible snapshot's point, the active file, the file set and the info file exactly as an
 * in-memory model says. Bounded: 25 runs x up to 12 steps on 512 KiB images.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import fc from 'fast-check';
import { qemuIo } from '../../../../../lib/qemu/qemu-io.js';
import { createSnapshotOp } from '../../../../../drivers/remotefs/snapshots/create.js';
import { deleteSnapshotOp } from '../../../../../drivers/remotefs/snapshots/delete.js';
import { extendOp } from '../../../../../drivers/remotefs/snapshots/extend.js';
import { revertOp } from '../../../../../drivers/remotefs/snapshots/revert.js';
import { REGION, currentTree, makeVolume, model, tempDir, verifyAll, writeStep, type Vol } from '../../../../fixtures/snapshots/harness.js';

type Op =
  | { t: 'create' }
  | { t: 'delete'; i: number }
  | { t: 'revert'; i: number }
  | { t: 'extend' }
  | { t: 'write'; r: number; n: number }
  | { t: 'zero'; r: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant<Op>({ t: 'create' }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('delete' as const), i: fc.nat(20) }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('revert' as const), i: fc.nat(20) }), weight: 2 },
  { arbitrary: fc.constant<Op>({ t: 'extend' }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('write' as const), r: fc.nat(15), n: fc.integer({ min: 1, max: 3 }) }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('zero' as const), r: fc.nat(15) }), weight: 1 },
);

const START = 512 * 1024;
const MAX = 1024 * 1024;

function pick(v: Vol, i: number): string | null {
  const ids = [...v.snaps.keys()].sort();
  return ids.length === 0 ? null : (ids[i % ids.length] as string);
}

async function zeroStep(v: Vol, region: number): Promise<void> {
  const tree = await currentTree(v);
  const r = region % (v.active.size / REGION);
  await qemuIo(path.join(v.loc.dir, tree.active), tree.files[tree.active]?.format ?? 'qcow2', [`write -z ${r * REGION} ${REGION}`]);
  v.active.data.delete(r);
}

async function apply(v: Vol, op: Op): Promise<void> {
  if (op.t === 'create') {
    const sid = randomUUID();
    await createSnapshotOp(v.loc, sid);
    model.create(v, sid);
  } else if (op.t === 'delete' || op.t === 'revert') {
    const sid = pick(v, op.i);
    if (sid === null) return;
    if (op.t === 'delete') {
      await deleteSnapshotOp(v.loc, sid);
      model.remove(v, sid);
    } else {
      await revertOp(v.loc, sid);
      model.revert(v, sid);
    }
  } else if (op.t === 'extend') {
    const size = Math.min(MAX, v.active.size + 4 * REGION);
    await extendOp(v.loc, size);
    model.extend(v, size);
  } else if (op.t === 'write') {
    const regions = v.active.size / REGION;
    const r = op.r % regions;
    await writeStep(v, r, Math.min(op.n, regions - r) * REGION);
  } else {
    await zeroStep(v, op.r);
  }
}

describe('snapshots: property (random operation sequences against a model)', function () {
  this.timeout(180_000);

  it('every point, the file set and the info file match the model after every step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 12 }), async (ops) => {
        const { dir, cleanup } = await tempDir('snap-prop-');
        try {
          const v = await makeVolume(dir, START);
          await writeStep(v, 0);
          for (const [n, op] of ops.entries()) {
            await apply(v, op);
            await verifyAll(v, `step ${n} ${JSON.stringify(op)}`);
          }
        } finally {
          await cleanup();
        }
      }),
      { numRuns: 25 },
    );
  });
});
