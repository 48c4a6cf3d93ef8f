/**
 * The disks of a live domain as the coordinator sees them: found by <serial> (= volume id), with
 * the backing chain libvirt reports (<backingStore>, top first) and any block-job <mirror>.
 *
 *   <disk type='file' device='disk'>
 *     <driver name='qemu' type='qcow2'/>
 *     <source file='/mnt/H/volume-V.S2'/>            ← active layer (chain[0])
 *     <backingStore type='file'><format type='qcow2'/>
 *       <source file='/mnt/H/volume-V.S1'/>          ← chain[1]
 *       <backingStore type='file'>… volume-V …        ← chain[2] (root; ends in <backingStore/>)
 *     <mirror type='file' job='active-commit' ready='yes'>…  (only while a copy/commit runs)
 *     <target dev='vdb' bus='virtio'/>  <serial>V</serial>
 */
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { child, children, parseXml, type XmlElement } from '../../lib/libvirt/xml.js';

export interface ChainLayer {
  /** Absolute path as libvirt resolved it; null for a non-file source. */
  path: string | null;
  /** Bare file name (basename of path). */
  name: string | null;
  format: string | null;
  type: string;
}

export interface DiskMirror {
  /** 'active-commit' | 'copy' | ... */
  job: string | null;
  /** 'yes' once the job can be pivoted; 'pivot' / 'abort' while switching. */
  ready: string | null;
  path: string | null;
}

export interface LiveDisk {
  target: string;
  serial: string | null;
  device: string;
  type: string;
  chain: ChainLayer[];
  mirror: DiskMirror | null;
}

export interface LiveDomain {
  name: string;
  uuid: string;
  disks: LiveDisk[];
}

function sourcePath(el: XmlElement | undefined): string | null {
  if (!el) return null;
  const src = child(el, 'source');
  return src?.attrs.file ?? src?.attrs.dev ?? null;
}

function layerOf(el: XmlElement, format: string | null): ChainLayer {
  const p = sourcePath(el);
  return { path: p, name: p === null ? null : path.basename(p), format, type: el.attrs.type ?? 'file' };
}

/** Walk <backingStore> elements; an empty <backingStore/> ends the chain. */
function chainOf(disk: XmlElement): ChainLayer[] {
  const chain = [layerOf(disk, child(disk, 'driver')?.attrs.type ?? null)];
  let node = child(disk, 'backingStore');
  while (node && (node.children.length > 0 || Object.keys(node.attrs).length > 0)) {
    chain.push(layerOf(node, child(node, 'format')?.attrs.type ?? null));
    node = child(node, 'backingStore');
  }
  return chain;
}

function mirrorOf(disk: XmlElement): DiskMirror | null {
  const m = child(disk, 'mirror');
  if (!m) return null;
  return { job: m.attrs.job ?? null, ready: m.attrs.ready ?? null, path: sourcePath(m) ?? m.attrs.file ?? null };
}

function diskOf(el: XmlElement): LiveDisk | null {
  const target = child(el, 'target')?.attrs.dev;
  if (!target) return null;
  return {
    target,
    serial: child(el, 'serial')?.text.trim() || null,
    device: el.attrs.device ?? 'disk',
    type: el.attrs.type ?? 'file',
    chain: chainOf(el),
    mirror: mirrorOf(el),
  };
}

export function parseDomainXml(xml: string): LiveDomain {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (err) {
    throw new StorageError('LIBVIRT_ERROR', `cannot parse the domain XML: ${(err as Error).message}`, { cause: err });
  }
  const devices = child(root, 'devices');
  const disks = devices ? children(devices, 'disk').map(diskOf).filter((d): d is LiveDisk => d !== null) : [];
  return { name: child(root, 'name')?.text.trim() ?? '', uuid: child(root, 'uuid')?.text.trim() ?? '', disks };
}

/** The disk whose serial is the volume id; NOT_FOUND otherwise (Nova's lookup, made explicit). */
export function diskBySerial(dom: LiveDomain, volumeId: string): LiveDisk {
  const disk = dom.disks.find((d) => d.serial === volumeId);
  if (!disk) {
    throw new StorageError('NOT_FOUND', `domain ${dom.name} has no disk with serial ${volumeId}`, {
      details: { domain: dom.uuid, volumeId },
    });
  }
  return disk;
}

/** Chain as bare names, active file first. */
export function chainNames(disk: LiveDisk): (string | null)[] {
  return disk.chain.map((l) => l.name);
}
