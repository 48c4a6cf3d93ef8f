/**
 * Crash-test child: runs one snapshot operation and, through the engine's step hook, either
 * SIGKILLs itself at a named step boundary (`crashAt`) or announces a step on stdout so that the
 * parent can kill it at a random moment while qemu-img runs (`announce`).
 *
 *   npx tsx test/integration/snapshots/crash-child.ts '<json>'
 */
import { createSnapshotOp } from '../../../drivers/remotefs/snapshots/create.js';
import { deleteSnapshotOp } from '../../../drivers/remotefs/snapshots/delete.js';
import { extendOp } from '../../../drivers/remotefs/snapshots/extend.js';
import { setStepHook, type StepName } from '../../../drivers/remotefs/snapshots/hooks.js';
import type { VolumeLocation } from '../../../drivers/remotefs/snapshots/location.js';
import { revertOp } from '../../../drivers/remotefs/snapshots/revert.js';

export interface ChildJob {
  loc: VolumeLocation;
  op: 'create' | 'delete' | 'revert' | 'extend';
  snapshotId?: string;
  sizeBytes?: number;
  crashAt?: StepName;
  announce?: StepName;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as ChildJob;
  setStepHook((step) => {
    if (step === job.announce) process.stdout.write(`AT ${step}\n`);
    if (step === job.crashAt) process.kill(process.pid, 'SIGKILL');
  });
  const sid = job.snapshotId ?? '';
  if (job.op === 'create') await createSnapshotOp(job.loc, sid);
  else if (job.op === 'delete') await deleteSnapshotOp(job.loc, sid);
  else if (job.op === 'revert') await revertOp(job.loc, sid);
  else await extendOp(job.loc, job.sizeBytes ?? 0);
  process.stdout.write('DONE\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
