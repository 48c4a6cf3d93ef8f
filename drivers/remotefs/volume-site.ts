/**
 * Where a volume's files are (which share) and its info tree. The service's providerLocation is
 * tried first; the other shares are searched too, so a volume is found even when the database and
 * the share disagree (the info file is the truth about files).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { StorageError, isStorageError, shareGoneError } from '../../lib/core/errors.js';
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

/** Absent is false; a share that does not answer is not "absent" (SHARE_UNAVAILABLE is thrown). */
async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    const gone = shareGoneError(err, `stat ${file}`);
    if (gone) throw gone;
    return false;
  }
}

function searchOrder(shares: readonly Share[], providerLocation: string | null): Share[] {
  const first = shares.filter((s) => s.address === providerLocation);
  return [...first, ...shares.filter((s) => s.address !== providerLocation)];
}

/**
 * The share holding the volume's info file or base file; null when none does. A share that does
 * not answer (a brick lost) cannot tell: found elsewhere, the volume is there; else
 * SHARE_UNAVAILABLE, never null (a caller would take "no files" for "gone": adopt nothing, delete
 * the row, report the volume missing).
 */
export async function findVolume(shares: readonly Share[], volumeId: string, providerLocation: string | null = null): Promise<VolumeSite | null> {
  let unreachable: StorageError | null = null;
  for (const share of searchOrder(shares, providerLocation)) {
    const dir = share.mountPoint;
    try {
      if (await exists(path.join(dir, infoFileName(volumeId))) || await exists(path.join(dir, baseFileName(volumeId)))) {
        return { share, dir, volumeId };
      }
    } catch (err) {
      if (!isStorageError(err, 'SHARE_UNAVAILABLE')) throw err;
      unreachable ??= new StorageError('SHARE_UNAVAILABLE', `volume ${volumeId}: share ${share.address} is not reachable (${String(err.details.errno)}); its files cannot be looked up`, {
        cause: err, details: { volumeId, share: share.address, errno: err.details.errno },
      });
    }
  }
  if (unreachable) throw unreachable;
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
