/**
 * Durable JSON files for the coordinator's state (jobs, frozen guests): written through core's
 * durable-file module (temp file, fsync, rename, fsync of the directory), so a crash leaves the
 * old or the new content, never a torn file.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../lib/core/durable-file.js';

export { removeDurably } from '../../lib/core/durable-file.js';

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
}
