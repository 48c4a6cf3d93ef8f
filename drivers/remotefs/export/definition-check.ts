/**
 * A domain definition carried by an instance archive (the instance's, or a checkpoint's saved
 * one) is hostile input: once imported, a host defines or restores it, and libvirt would open
 * whatever file it names. So it is parsed (never matched piecemeal) and every value that names a
 * host path must be one this product puts there:
 *
 *   <disk type='file'> <source file=...>   a file of the archive's volume whose id is the disk's
 *                                          <serial>, one of that volume's tree files (backingStore
 *                                          sources too); in a checkpoint's definitions also
 *                                          the point that checkpoint recorded for that volume at
 *                                          the take (withCheckpointPoints): a delete by commit
 *                                          moves a point into a lower file, and the take-time
 *                                          name is then in no tree, but the definitions keep it
 *   <nvram>PATH</nvram>                    an absolute normalized path: the importer replaces it
 *                                          with the store in the new instance's directory
 *   <loader readonly='yes'>, <nvram template=...>, <emulator>
 *                                          system files: under /usr/ (firmware, the emulator)
 *   <resource><partition>                  libvirt's default cgroup partition /machine only
 *   <kernel>, <initrd>, <loader readonly='yes'>
 *                                          also a file directly in one of the directories the
 *                                          operator allows (storage.importBootDirs, default none):
 *                                          direct kernel boot reads files the host provides, and
 *                                          only the operator knows which host files are meant
 *                                          for guests
 *
 * Anything else naming a path (a kernel elsewhere, a serial or console log file: libvirt would
 * create or append to it as root, a block or network disk, a disk without a serial) is refused, as are host passthrough (<hostdev>, <filesystem>, ...), any
 * namespaced element (<qemu:commandline> passes raw QEMU arguments) and a DOCTYPE or entity
 * declaration.
 * Pure: the XML reader is the coordinator's (lib/libvirt/xml.ts). Refusals: CHECKPOINT_DEFINITION_UNSAFE.
 */
import path from 'node:path';
import { StorageError } from '../../../lib/core/errors.js';
import { isCanonicalUuid, isOwnFileName } from '../../../lib/core/volume-names.js';
import { child, parseXml, type XmlElement } from '../../../lib/libvirt/xml.js';

/** Per carried volume id: the bare names of its tree's files in the archive. */
export type VolumeFiles = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * The files a checkpoint's definitions may name: each volume's tree files and the point the
 * checkpoint recorded for that volume (a name already checked as one of that volume's own files),
 * nothing of another volume's or of another checkpoint's.
 */
export function withCheckpointPoints(files: VolumeFiles, points: readonly { volumeId: string; point?: string | undefined }[]): VolumeFiles {
  const out = new Map(files);
  for (const p of points) {
    const own = files.get(p.volumeId);
    if (p.point === undefined || own === undefined || !isOwnFileName(p.point, p.volumeId)) continue;
    out.set(p.volumeId, new Set([...(out.get(p.volumeId) ?? own), p.point]));
  }
  return out;
}

export interface DefinitionFacts {
  /** The disks found: target -> volume id (its serial). */
  disks: Map<string, string>;
  /** The <nvram> path, or null. */
  nvram: string | null;
}

function unsafe(what: string, reason: string): StorageError {
  return new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `${what}: ${reason}`, { details: { definition: what, reason: reason.slice(0, 300) } });
}

const SYSTEM_FILE = /^\/usr\/[A-Za-z0-9._+/-]+$/;
const DEFAULT_PARTITION = '/machine';

function isNormalAbsolute(p: string): boolean {
  return path.isAbsolute(p) && path.normalize(p) === p && !p.endsWith('/');
}

function isSystemFile(p: string): boolean {
  return isNormalAbsolute(p) && SYSTEM_FILE.test(p);
}

/** A file directly in one of the allowed directories (no subdirectory: nothing below is implied). */
function isBootFile(p: string, bootDirs: readonly string[]): boolean {
  return isNormalAbsolute(p) && /^[A-Za-z0-9._+-]+$/.test(path.basename(p)) && bootDirs.some((d) => path.dirname(p) === path.normalize(d).replace(/\/+$/, ''));
}

/** Every disk source along the chain (<source>, then each <backingStore>'s). */
function diskSources(disk: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  for (let node: XmlElement | undefined = disk; node; node = child(node, 'backingStore')) {
    const src = child(node, 'source');
    if (src) out.push(src);
  }
  return out;
}

function checkDisk(disk: XmlElement, files: VolumeFiles, what: string, facts: DefinitionFacts, allowed: Set<XmlElement>): void {
  const target = child(disk, 'target')?.attrs.dev ?? '';
  const sources = diskSources(disk);
  if (sources.length === 0) return;
  if ((disk.attrs.type ?? 'file') !== 'file') throw unsafe(what, `disk ${target} is of type ${disk.attrs.type}: only files of the archive's volumes are allowed`);
  const serial = child(disk, 'serial')?.text.trim() ?? '';
  // The volume id in the one form the archive's ids have (isCanonicalUuid), never another case of it.
  const own = isCanonicalUuid(serial) ? files.get(serial) : undefined;
  if (own === undefined) throw unsafe(what, `disk ${target} (serial ${JSON.stringify(serial.slice(0, 64))}) is not a volume of the archive`);
  for (const src of sources) {
    const keys = Object.keys(src.attrs).filter((k) => k !== 'index');
    const file = src.attrs.file;
    if (file === undefined || keys.length !== 1 || !isNormalAbsolute(file)) throw unsafe(what, `disk ${target} names a source that is not one absolute file path`);
    const name = path.basename(file);
    if (!isOwnFileName(name, serial) || !own.has(name)) throw unsafe(what, `disk ${target} names ${JSON.stringify(name.slice(0, 200))}, not a file of volume ${serial}'s tree in the archive`);
    allowed.add(src);
  }
  if (facts.disks.has(target)) throw unsafe(what, `target ${target} is listed twice`);
  facts.disks.set(target, serial);
}

/** Attributes and elements whose value libvirt reads as a path, absolute or not. */
const PATH_ATTRS = new Set(['file', 'path', 'dir', 'socket', 'template']);
const PATH_ELEMENTS = new Set(['kernel', 'initrd', 'dtb', 'loader', 'nvram', 'emulator']);

/**
 * Elements that hand the guest a host resource or QEMU raw arguments, whatever their attributes:
 * refused outright (a namespaced element, e.g. <qemu:commandline>, can pass any argument).
 */
const REFUSED_ELEMENTS = new Set(['hostdev', 'redirdev', 'smartcard', 'shmem', 'filesystem']);

function refusedElement(el: XmlElement, what: string): void {
  if (el.name.includes(':') || REFUSED_ELEMENTS.has(el.name)) throw unsafe(what, `<${el.name}> is not allowed in an imported definition`);
  for (const c of el.children) refusedElement(c, what);
}

/** Every attribute value and text that is or looks like a host path, with the element holding it. */
function pathsIn(el: XmlElement, out: { el: XmlElement; where: string; value: string }[]): void {
  for (const [k, v] of Object.entries(el.attrs)) if (PATH_ATTRS.has(k) || v.trim().startsWith('/')) out.push({ el, where: `<${el.name} ${k}>`, value: v });
  if (PATH_ELEMENTS.has(el.name) || el.text.trim().startsWith('/')) out.push({ el, where: `<${el.name}>`, value: el.text.trim() });
  for (const c of el.children) pathsIn(c, out);
}

/**
 * Checks a definition as above; `uuid` is the instance's (the definition must be of it). Returns
 * its disks and NVRAM path. `bootDirs`: the operator's directories of kernels, initrds and loaders.
 */
export function checkDefinition(xml: string, what: string, uuid: string, files: VolumeFiles, bootDirs: readonly string[] = []): DefinitionFacts {
  if (/<!(DOCTYPE|ENTITY)/i.test(xml)) throw unsafe(what, 'a DOCTYPE or entity declaration');
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (err) {
    throw unsafe(what, `not well-formed XML: ${(err as Error).message}`);
  }
  if (root.name !== 'domain') throw unsafe(what, `the root element is <${root.name}>, not <domain>`);
  if ((child(root, 'uuid')?.text.trim() ?? '') !== uuid) throw unsafe(what, `it is not the definition of instance ${uuid} (in the one form of ids: lower case)`);
  refusedElement(root, what);
  const facts: DefinitionFacts = { disks: new Map(), nvram: null };
  const allowed = new Set<XmlElement>();
  const devices = child(root, 'devices');
  for (const disk of devices?.children.filter((c) => c.name === 'disk') ?? []) checkDisk(disk, files, what, facts, allowed);
  const os = child(root, 'os');
  const nvram = os ? child(os, 'nvram') : undefined;
  const found: { el: XmlElement; where: string; value: string }[] = [];
  pathsIn(root, found);
  for (const p of found) {
    if (allowed.has(p.el)) continue;
    if (p.el === nvram && p.where === '<nvram>' && isNormalAbsolute(p.value)) { facts.nvram = p.value; continue; }
    if (p.el === nvram && p.where === '<nvram template>' && isSystemFile(p.value)) continue;
    if (os && p.el.name === 'loader' && os.children.includes(p.el) && p.el.attrs.readonly === 'yes' && p.where === '<loader>' && isSystemFile(p.value)) continue;
    if (devices && p.el.name === 'emulator' && devices.children.includes(p.el) && isSystemFile(p.value)) continue;
    // libvirt's default cgroup partition, which a running domain's definition (a memory file's) names: not a file.
    if (p.el.name === 'partition' && p.where === '<partition>' && p.value === DEFAULT_PARTITION && child(root, 'resource')?.children.includes(p.el)) continue;
    if (os && os.children.includes(p.el) && p.where === `<${p.el.name}>` && isBootFile(p.value, bootDirs)
      && (p.el.name === 'kernel' || p.el.name === 'initrd' || (p.el.name === 'loader' && p.el.attrs.readonly === 'yes'))) continue;
    throw unsafe(what, `${p.where} names ${JSON.stringify(p.value.slice(0, 200))}: not a file an imported instance may name`);
  }
  return facts;
}

/**
 * The definition as the import places it: each disk source in the directory `dir` (or `dir(name)`) under the new
 * volume's name of the file, each disk's serial the new volume id (`volumeIdOf`: the coordinator
 * finds a volume's disk by it), the NVRAM at `nvram`. Only values checkDefinition allowed are
 * rewritten, each in place as text (the rest of the document is kept byte for byte).
 */
export function rewriteImported(xml: string, dir: string | ((name: string) => string), renameFile: (name: string) => string, nvram: string | null, volumeIdOf: (id: string) => string = (id) => id): string {
  // A function `dir`: each volume's own share (an import mapping volumes to shares), by the file's archived name.
  const dirOf = typeof dir === 'string' ? () => dir : dir;
  let out = xml.replace(/(<serial>)\s*([0-9a-fA-F-]{36})\s*(<\/serial>)/g, (_m, open: string, id: string, close: string) => `${open}${volumeIdOf(id.toLowerCase())}${close}`);
  out = out.replace(/(<source\b[^>]*?\bfile=)(['"])([^'"]*)\2/g, (_m, head: string, q: string, file: string) => `${head}${q}${path.join(dirOf(path.basename(file)), renameFile(path.basename(file)))}${q}`);
  if (nvram !== null) out = out.replace(/(<nvram\b[^>]*>)([^<]*)(<\/nvram>)/, (_m, open: string, _old: string, close: string) => `${open}${escapeText(nvram)}${close}`);
  return out;
}

/**
 * The rewritten definition read back as libvirt will: the domain's own <uuid> is `uuid` and every
 * disk's serial one of `volumeIds` (rewriteImported rewrites text in place, so a look-alike it met
 * first, e.g. a <uuid> in a comment or in another element before the domain's, would leave the
 * source's ids where libvirt reads them).
 */
export function assertPlacedDefinition(xml: string, what: string, uuid: string, volumeIds: ReadonlySet<string>): void {
  const root = parseXml(xml);
  if ((child(root, 'uuid')?.text.trim() ?? '') !== uuid) throw unsafe(what, `its <uuid> is not the one the import gives it (${uuid}) once placed`);
  for (const disk of child(root, 'devices')?.children.filter((c) => c.name === 'disk') ?? []) {
    if (diskSources(disk).length === 0) continue;
    const serial = child(disk, 'serial')?.text.trim() ?? '';
    if (!volumeIds.has(serial)) throw unsafe(what, `a disk's serial is not an imported volume's id once placed (${JSON.stringify(serial.slice(0, 64))})`);
  }
}

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
