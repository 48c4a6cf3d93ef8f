/**
 * The <disk> element of an attached volume: file on this host's mount of the share, explicit
 * format (never probed), <serial> = volume id (how the coordinator finds the disk again, and
 * what the guest sees). Only the active file is named: QEMU follows the backing chain from the
 * headers, which hold bare names, so the chain resolves inside the same directory on any host.
 */
import { StorageError } from '../../lib/core/errors.js';
import { parseDomainXml } from '../domain/disks.js';

function esc(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

export function volumeDiskXml(file: string, format: 'qcow2' | 'raw', target: string, volumeId: string): string {
  return `<disk type='file' device='disk'><driver name='qemu' type='${format}'/>` +
    `<source file='${esc(file)}'/><target dev='${esc(target)}' bus='virtio'/><serial>${esc(volumeId)}</serial></disk>`;
}

/** The first vdX the domain does not use. */
export function freeTarget(domainXml: string): string {
  const used = new Set(parseDomainXml(domainXml).disks.map((d) => d.target));
  for (let i = 0; i < 26; i += 1) {
    const t = `vd${String.fromCharCode(97 + i)}`;
    if (!used.has(t)) return t;
  }
  throw new StorageError('INVALID_STATE', 'the domain has no free virtio disk name (vda..vdz)');
}

/** The disk whose serial is the volume id, or null. */
export function diskOfVolume(domainXml: string, volumeId: string): { target: string; file: string | null; format: 'qcow2' | 'raw' } | null {
  const d = parseDomainXml(domainXml).disks.find((x) => x.serial === volumeId);
  return d ? { target: d.target, file: d.chain[0]?.path ?? null, format: d.chain[0]?.format === 'raw' ? 'raw' : 'qcow2' } : null;
}
