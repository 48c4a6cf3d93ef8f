/**
 * Temporary files this process made and could not remove: the share stopped answering between the
 * write and the clean-up (a GlusterFS brick killed mid-write answers ENOTCONN to both). Nothing
 * else would ever remove them: the failed write left no intent, so no pass reconciles the volume
 * until a restart. Each temp's name is random and this process's alone, so removing it later
 * needs no lease; the periodic sweep retries (retryLeftoverTemps) until the share answers. After
 * a crash the list is gone, and reconcile's temp rule removes them at the next start instead.
 */
import { unlink } from 'node:fs/promises';

const pending = new Set<string>();

type Unlink = (file: string) => Promise<void>;

/** Remove a temporary now, or remember it for the sweep when its file system does not let us. */
export async function removeTemp(file: string, remove: Unlink = unlink): Promise<void> {
  try {
    await remove(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') pending.add(file);
  }
}

/** One retry of every remembered temporary: the ones now removed (or already gone), and how many are still left. */
export async function retryLeftoverTemps(remove: Unlink = unlink): Promise<{ removed: string[]; left: number }> {
  const removed: string[] = [];
  for (const file of [...pending]) {
    try {
      await remove(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') continue;
    }
    pending.delete(file);
    removed.push(file);
  }
  return { removed, left: pending.size };
}

/** The temporaries still waiting for their share (the sweep's log and the tests read it). */
export function leftoverTemps(): readonly string[] {
  return [...pending];
}
