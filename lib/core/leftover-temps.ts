/**
 * Temporary files this process made and could not remove: the share stopped answering between the
 * write and the clean-up (a GlusterFS brick killed mid-write answers ENOTCONN to both). Nothing
 * else would ever remove them: the failed write left no intent, so no pass reconciles the volume
 * until a restart. Each temp's name is random and this process's alone, so removing it later
 * needs no lease; the periodic sweep retries (retryLeftoverTemps) until the share answers. After
 * a crash the list is gone, and reconcile's temp rule removes them at the next start instead.
 */
import { readdir, unlink } from 'node:fs/promises';
import path from 'node:path';

const pending = new Set<string>();

type Unlink = (file: string) => Promise<void>;

/** Whether the name is still listed in its directory (throws when the directory cannot be read). */
async function listed(file: string): Promise<boolean> {
  return (await readdir(path.dirname(file))).includes(path.basename(file));
}

/**
 * Whether the temporary is gone. An ENOENT is believed only when its directory reads without the
 * name: a GlusterFS client that just lost its brick answered ENOENT for a file the brick still
 * had, and a create whose reply was lost (the open failed) may have made the file all the same.
 */
async function gone(file: string, remove: Unlink): Promise<boolean> {
  try {
    await remove(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
  }
  try {
    return !(await listed(file));
  } catch (err) {
    // A directory that is not there holds no temporary; any other refusal proves nothing.
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Remove a temporary now, or remember it for the sweep when its file system does not let us. */
export async function removeTemp(file: string, remove: Unlink = unlink): Promise<void> {
  if (!(await gone(file, remove))) pending.add(file);
}

/** One retry of every remembered temporary: the ones now removed (or already gone), and how many are still left. */
export async function retryLeftoverTemps(remove: Unlink = unlink): Promise<{ removed: string[]; left: number }> {
  const removed: string[] = [];
  for (const file of [...pending]) {
    if (!(await gone(file, remove))) continue;
    pending.delete(file);
    removed.push(file);
  }
  return { removed, left: pending.size };
}

/** The temporaries still waiting for their share (the sweep's log and the tests read it). */
export function leftoverTemps(): readonly string[] {
  return [...pending];
}
