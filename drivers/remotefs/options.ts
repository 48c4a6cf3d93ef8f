/**
 * The storage options only the RemoteFS driver reads. They sit beside the driver, not in the core
 * schema (lib/core/config.ts); the storage service composes them into its one validated
 * configuration through the driver registry (drivers/contract/registry.ts), so an operator still
 * writes them under `storage` and an unknown key or a bad value still stops the start with
 * CONFIG_INVALID. The config reference generator reads the comments below.
 */
import { z } from 'zod';
import type { StorageConfig } from '../../lib/core/config.js';
import { StorageError } from '../../lib/core/errors.js';

export const remotefsStorageOptions = {
  /** Sparse by default; preallocation of new volumes. */
  preallocation: z.enum(['off', 'metadata', 'falloc', 'full']).default('off'),
  /** Deepest snapshot chain (files) a volume may have; a snapshot beyond it is refused with CHAIN_TOO_DEEP. */
  maxChainDepth: z.number().int().min(2).max(200).default(128),
  /** Thin provisioning limit, as Cinder's max_over_subscription_ratio: provisioned / total may not exceed it. */
  overSubscriptionRatio: z.number().min(1).default(20),
  /** Percentage of each share kept free (Cinder's reserved_percentage). */
  reservedPercentage: z.number().min(0).max(100).default(0),
  /** Owner and mode of created files, so QEMU (libvirt-qemu) can open them. null: leave as is. */
  fileOwner: z.string().nullable().default(null),
  /** Mode of created volume files (octal). */
  fileMode: z.string().regex(/^0?[0-7]{3}$/).default('0660'),
  /**
   * Directories whose files an imported instance's definition may name as its kernel, initrd or
   * read-only firmware loader (absolute; files directly in them). Default none: such an
   * instance archive is refused (CHECKPOINT_DEFINITION_UNSAFE), since libvirt on the compute host
   * would open whatever path the archive names.
   */
  importBootDirs: z.array(z.string().max(1024).regex(/^\/(?!.*(^|\/)\.\.?(\/|$))[^\0]*$/, 'an absolute path without . or .. parts')).max(16).default([]),
};

/** Not strict: it picks its own keys out of the whole storage section. */
const optionsSchema = z.object(remotefsStorageOptions);

export type RemoteFsOptions = z.infer<typeof optionsSchema>;

/**
 * The driver's options out of a storage section. The service's configuration has validated them
 * already; parsing again gives the defaults to a section built without them (a bench, a test),
 * and a bad value there fails here with CONFIG_INVALID rather than later.
 */
export function remotefsOptionsOf(storage: Readonly<StorageConfig>): RemoteFsOptions {
  const result = optionsSchema.safeParse(storage);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `storage.${i.path.join('.')}: ${i.message}`);
    throw new StorageError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, { details: { problems } });
  }
  return result.data;
}
