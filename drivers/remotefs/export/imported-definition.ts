/**
 * The disks of an imported instance's definition, as the instance import placed it on a share
 * (import-instance.ts; checked there as hostile XML, its serials the new volume ids): what the
 * storage service attaches before a compute host defines the instance from the same file.
 */
import { readFile } from 'node:fs/promises';
import { StorageError } from '../../../lib/core/errors.js';
import { isUuid } from '../../../lib/core/volume-names.js';
import { child, children, parseXml } from '../../../lib/libvirt/xml.js';
import { importedDefinitionPath } from '../../../lib/protocol/imported-instance.js';
import type { ImportedDisk } from '../../contract/imported-instance-support.js';
import type { RemoteFsEnv } from '../env.js';

/** Pure: each disk with a file source, by its target and serial (a volume id). */
export function disksOfImported(xml: string, instanceUuid: string): ImportedDisk[] {
  const root = parseXml(xml);
  if ((child(root, 'uuid')?.text.trim().toLowerCase() ?? '') !== instanceUuid.toLowerCase()) {
    throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `the imported definition of instance ${instanceUuid} names another instance`, { details: { instance_uuid: instanceUuid } });
  }
  const devices = child(root, 'devices');
  const out: ImportedDisk[] = [];
  for (const disk of devices ? children(devices, 'disk') : []) {
    const source = child(disk, 'source');
    if (source?.attrs.file === undefined) continue;
    const target = child(disk, 'target')?.attrs.dev ?? '';
    const serial = child(disk, 'serial')?.text.trim().toLowerCase() ?? '';
    if (!target || !isUuid(serial)) throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `the imported definition of instance ${instanceUuid} has a disk without a target or a volume serial`, { details: { instance_uuid: instanceUuid } });
    out.push({ target, volumeId: serial });
  }
  return out;
}

export async function importedInstanceDisks(env: RemoteFsEnv, instanceUuid: string): Promise<ImportedDisk[] | null> {
  for (const share of env.shares) {
    if (!(await share.isMounted())) continue;
    const xml = await readFile(importedDefinitionPath(share.mountPoint, instanceUuid), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (xml !== null) return disksOfImported(xml, instanceUuid);
  }
  return null;
}
