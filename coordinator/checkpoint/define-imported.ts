/**
 * An imported instance defined on this host, stopped (the storage service's os-define): the
 * definition the import placed on the share (checked there as hostile XML), each disk pointed at
 * the file its volume is active on now (the storage side names it: a snapshot since the import
 * moved it), defined persistently and NOT started. Refused, with nothing defined, when libvirt
 * here already knows the instance, when the definition is missing or not of this instance, or
 * when a disk or a named file is not one of the instance's volumes' own.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { isOwnFileName } from '../../lib/core/volume-names.js';
import { importedDefinitionPath } from '../../lib/protocol/imported-instance.js';
import { parseDomainXml } from '../domain/disks.js';
import { presenceOf, type InstancePresence } from './host-release.js';
import { rewriteDefinition, type RewriteTarget } from './plan.js';
import { lookupDefined, type CheckpointDeps } from './runner.js';

/** Bare names: the file each volume is active on. */
export interface DefineSource {
  volumeId: string;
  file: string;
}

function refused(reason: string, details: Record<string, unknown> = {}): StorageError {
  return new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `imported definition refused: ${reason}`, { details: { reason, ...details } });
}

/**
 * Pure: the definition to define. Every disk with a source is a volume of `sources` (by serial)
 * whose source is one of that volume's files; it is pointed at the volume's named file in the
 * same directory (backing elements dropped: QEMU reads the chain from the header). Every volume
 * of `sources` must be a disk of it.
 */
export function planImportedDefine(xml: string, instanceUuid: string, sources: readonly DefineSource[]): string {
  const dom = parseDomainXml(xml);
  if (dom.uuid.toLowerCase() !== instanceUuid.toLowerCase()) throw refused(`it is the definition of ${dom.uuid || 'no uuid'}, not of instance ${instanceUuid}`);
  const byTarget = new Map<string, RewriteTarget>();
  const seen = new Set<string>();
  for (const d of dom.disks) {
    const top = d.chain[0]?.path ?? null;
    if (top === null) continue;
    const src = sources.find((s) => s.volumeId === d.serial?.toLowerCase());
    if (!src) throw refused(`disk ${d.target} (serial ${d.serial ?? 'none'}) is not one of the instance's volumes`, { target: d.target });
    if (!isOwnFileName(path.basename(top), src.volumeId) || path.normalize(top) !== top || !path.isAbsolute(top)) {
      throw refused(`disk ${d.target} names ${top}, not a file of volume ${src.volumeId}`, { target: d.target });
    }
    if (!isOwnFileName(src.file, src.volumeId)) throw refused(`${src.file} is not a file of volume ${src.volumeId}`, { volume_id: src.volumeId });
    byTarget.set(d.target, { snapshotPoint: top, overlayPath: path.join(path.dirname(top), src.file) });
    seen.add(src.volumeId);
  }
  const missing = sources.filter((s) => !seen.has(s.volumeId));
  if (missing.length > 0) throw refused(`volumes ${missing.map((m) => m.volumeId).join(', ')} are not disks of the definition`);
  return rewriteDefinition(xml, byTarget, { source: 'imported definition' });
}

export async function defineImported(deps: CheckpointDeps, instanceUuid: string, sources: readonly DefineSource[]): Promise<InstancePresence> {
  if ((await lookupDefined(deps.libvirt, instanceUuid)) !== null) {
    throw new StorageError('CONFLICT', `instance ${instanceUuid} is already defined on this host; nothing was changed`, { details: { instance_uuid: instanceUuid } });
  }
  const file = importedDefinitionPath(deps.shareMount, instanceUuid);
  const xml = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new StorageError('NOT_FOUND', `instance ${instanceUuid} has no imported definition on this host's share`, { details: { instance_uuid: instanceUuid } });
    throw err;
  });
  await deps.libvirt.defineXml(planImportedDefine(xml, instanceUuid, sources));
  return presenceOf(deps.libvirt, instanceUuid);
}
