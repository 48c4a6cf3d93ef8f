/** A volume's files on a share, as the info file names them and as the directory lists them. */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { VolumeTree } from '../../drivers/remotefs/info-file.js';

export interface InfoFile {
  active: string;
  qcowshare: VolumeTree;
}

export async function readInfo(share: string, vid: string): Promise<InfoFile | null> {
  try {
    return JSON.parse(await readFile(path.join(share, `volume-${vid}.info`), 'utf8')) as InfoFile;
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw err;
  }
}

/** Every directory entry that belongs to the volume (its files, info file, temp files). */
export async function entriesOf(share: string, vid: string): Promise<string[]> {
  return (await readdir(share)).filter((f) => f.includes(vid)).sort();
}
