/**
 * The token this coordinator accepts (coordinator.inboundToken): the storage service's credential
 * for this host, one direction only. When the configuration leaves it empty, one is generated at
 * the first start and kept in <stateDir>/inbound-token (mode 0600), so a restart keeps accepting
 * the token the storage service already holds while self-registration repeats it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CREDENTIAL } from '../../lib/core/compute-host-rules.js';
import { writeFileAtomic } from '../../lib/core/durable-file.js';
import { StorageError } from '../../lib/core/errors.js';

export async function resolveInboundToken(c: { inboundToken: string; stateDir: string }): Promise<string> {
  if (c.inboundToken !== '') return c.inboundToken;
  const file = path.join(c.stateDir, 'inbound-token');
  try {
    const kept = (await readFile(file, 'utf8')).trim();
    if (!CREDENTIAL.test(kept)) throw new StorageError('CONFIG_INVALID', `${file} does not hold a valid inbound token: remove it to generate a new one`);
    return kept;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(32).toString('base64url');
  await mkdir(c.stateDir, { recursive: true });
  await writeFileAtomic(file, `${token}\n`, { mode: 0o600 });
  return token;
}
