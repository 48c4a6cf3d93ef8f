/**
 * doSetup: the tools are there, every share is mounted and writable. Writability is proven, not
 * assumed from mode bits (root squash, a read-only Gluster volume, a full brick): a probe file is
 * written, fsynced and removed on every share.
 */
import { open, unlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { hasTool } from '../../lib/core/process.js';
import type { Share } from '../../lib/shares/index.js';
import type { RemoteFsEnv } from './env.js';

/** Programs the driver runs per share type (mount helpers come with the client packages). */
export function requiredTools(types: readonly Share['type'][]): string[] {
  const tools = new Set(['qemu-img']);
  if (types.includes('glusterfs')) tools.add('mount.glusterfs');
  if (types.includes('nfs')) tools.add('mount');
  return [...tools];
}

async function checkTools(env: RemoteFsEnv): Promise<void> {
  for (const tool of requiredTools(env.shares.map((s) => s.type))) {
    if (!(await hasTool(tool))) throw new StorageError('TOOL_MISSING', `${tool} is not installed`, { details: { tool } });
  }
}

export async function probeWritable(share: Share): Promise<void> {
  const probe = path.join(share.mountPoint, `.qcowshare-probe-${randomUUID()}.tmp`);
  try {
    const fh = await open(probe, 'wx', 0o600);
    try {
      await fh.writeFile('probe\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await unlink(probe);
  } catch (err) {
    await unlink(probe).catch(() => undefined);
    throw new StorageError('SHARE_UNAVAILABLE', `share ${share.address} at ${share.mountPoint} is not writable: ${(err as Error).message}`, {
      details: { share: share.address, mountPoint: share.mountPoint }, cause: err,
    });
  }
}

export async function setupShares(env: RemoteFsEnv): Promise<void> {
  await checkTools(env);
  await env.perms();
  for (const share of env.shares) {
    await share.ensureMounted();
    await probeWritable(share);
  }
}
