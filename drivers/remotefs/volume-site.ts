/**
 * Where a volume's files are (which share) and its info tree. The service's providerLocation is
 * tried first; the other shares are searched too, so a volume is found even when the database and
 * the share disagree (the info file is the truth about files).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import type { Share } from '../../lib/shares/index.js';
import type { VolumeLocation } from './snapshots/location.js';
import { infoFileName } from './info-file.js';
import { baseFileName } from '../../lib/core/volume-names.js';
import { listVolumeFiles } from './paths.js';
import type { RemoteFsEnv } from './env.js';

export interface VolumeSite {
  share: Share;
  dir: string;
  volumeId: string;
}

async function exists(file: string): Promise<boolean> {
  return (await stat(file).catch(() => null)) !== null;
}

function searchOrder(shares: readonly Share[], providerLocation: string | null): Share[] {
  const first = shares.filter((s) => s.address === providerLocation);
  return [...first, ...shares.filter((s) => s.address !== providerLocation)];
}

/** The share holding the volume's info file or base file; null when none does. */
export async function findVolume(shares: readonly Share[], volumeId: string, providerLocation: string | null = null): Promise<VolumeSite | null> {
  for (const share of searchOrder(shares, providerLocation)) {
    const dir = share.mountPoint;
    if (await exists(path.join(dir, infoFileName(volumeId))) || await exists(path.join(dir, baseFileName(volumeId)))) {
      return { share, dir, volumeId };
    }
  }
  return null;
}

export async function requireVolume(shares: readonly Share[], volumeId: string, providerLocation: string | null): Promise<VolumeSite> {
  const site = await findVolume(shares, volumeId, providerLocation);
  if (site === null) throw new StorageError('VOLUME_NOT_FOUND', `volume ${volumeId} has no files on any configured share`, { details: { volumeId } });
  return site;
}

/** Refuse to create a volume whose id already has files anywhere (a crash leftover included). */
export async function assertNoFiles(shares: readonly Share[], volumeId: string): Promise<void> {
  for (const share of shares) {
    const files = await listVolumeFiles(share.mountPoint, volumeId).catch(() => []);
    if (files.length > 0) {
      throw new StorageError('VOLUME_EXISTS', `volume ${volumeId} already has files on ${share.address}`, { details: { volumeId, share: share.address, files } });
    }
  }
}

export async function locationOf(env: RemoteFsEnv, site: VolumeSite): Promise<VolumeLocation> {
  const perms = await env.perms();
  return { dir: site.dir, volumeId: site.volumeId, maxChainDepth: env.storage.maxChainDepth, fileMode: perms.mode, owner: perms.owner, identityKey: env.identityKey };
}
