/**
 * The <domainsnapshot> document for ONE atomic, disk-only, external snapshot over several disks,
 * reusing overlays the storage side created (REUSE_EXT). Every other disk of the domain is listed
 * with snapshot='no': left out, libvirt would give it an external snapshot with a generated name.
 */
import { SnapshotCreateFlags } from '../../lib/libvirt/constants.js';
import { escapeXml } from '../../lib/libvirt/xml.js';

export interface SnapshotDisk {
  /** Target dev (vdb). */
  target: string;
  /** Absolute path of the existing overlay. */
  overlayPath: string;
}

/** libvirt may not QUIESCE: the coordinator freezes itself, with a bound and a guaranteed thaw. */
export const SNAPSHOT_FLAGS =
  SnapshotCreateFlags.DISK_ONLY | SnapshotCreateFlags.REUSE_EXT | SnapshotCreateFlags.NO_METADATA | SnapshotCreateFlags.ATOMIC;

export function snapshotXml(name: string, include: readonly SnapshotDisk[], allTargets: readonly string[]): string {
  const chosen = new Map(include.map((d) => [d.target, d]));
  for (const t of chosen.keys()) if (!allTargets.includes(t)) throw new Error(`disk ${t} is not in the domain`);
  const disks = allTargets.map((t) => {
    const d = chosen.get(t);
    if (!d) return `    <disk name='${escapeXml(t)}' snapshot='no'/>`;
    return [
      `    <disk name='${escapeXml(t)}' snapshot='external' type='file'>`,
      `      <source file='${escapeXml(d.overlayPath)}'/>`,
      `      <driver type='qcow2'/>`,
      `    </disk>`,
    ].join('\n');
  });
  return [
    '<domainsnapshot>',
    `  <name>${escapeXml(name)}</name>`,
    `  <memory snapshot='no'/>`,
    '  <disks>',
    ...disks,
    '  </disks>',
    '</domainsnapshot>',
  ].join('\n');
}
