/**
 * Crash-test child: runs one snapshot operation and, through the engine's step hook, either
 * SIGKILLs itself at a named step boundary (`crashAt`) or announces a step on stdout so that the
 * parent can kill it at a random moment while qemu-img runs (`announce`).
 *
 *   npx tsx test/integration/snapshots/crash-child.ts '<json>'
 */
import {
  createSnapshot,
  deleteSnapshot,
  extendWithSnapshots,
  revertToSnapshot,
  setStepHook,
  type StepName,
  type VolumeLocation,
} from '../../../drivers/remotefs/snapshots/index.js';

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
  if (job.op === 'create') await createSnapshot(job.loc, sid);
  else if (job.op === 'delete') await deleteSnapshot(job.loc, sid);
  else if (job.op === 'revert') await revertToSnapshot(job.loc, sid);
  else await extendWithSnapshots(job.loc, job.sizeBytes ?? 0);
  process.stdout.write('DONE\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
