/**
 * The manifest of an instance archive (issue 15 item 4; layout in instance-section.ts): one volume
 * manifest body per volume (a full tree, never incremental) and the instance section. Each volume
 * body is checked by the volume archive's own rules (manifestSchema, assertManifestConsistent: one
 * rule for names, backing names, owners), the section by assertInstanceSection. Pure.
 */
import { z } from 'zod';
import { StorageError } from '../../../lib/core/errors.js';
import type { ExportManifest } from '../../contract/export-manifest.js';
import { INSTANCE_DEFINITION_NAME, INSTANCE_EXPORT_FORMAT, assertInstanceSection, checkpointFileNames, instanceSectionSchema, sectionFiles, type InstanceSection } from './instance-section.js';
import { EXPORT_FORMAT, EXPORT_VERSION, carriedFiles, manifestOfSchema, manifestSchema, assertManifestConsistent } from './manifest.js';

export const INSTANCE_EXPORT_VERSION = 1;
/** Disks of one instance: the section allows as many. */
const MAX_VOLUMES = 64;

const volumeBodySchema = manifestSchema.pick({ volume: true, tree: true });

export const instanceManifestSchema = z.strictObject({
  format: z.literal(INSTANCE_EXPORT_FORMAT),
  version: z.literal(INSTANCE_EXPORT_VERSION),
  createdAt: z.string().max(64),
  volumes: z.array(volumeBodySchema).min(1).max(MAX_VOLUMES),
  instance: instanceSectionSchema,
});

export type InstanceManifest = z.infer<typeof instanceManifestSchema>;

/** A volume body as the volume archive's manifest (full, no instance): what its rules and its import read. */
export function volumeManifestOf(m: Pick<InstanceManifest, 'createdAt'>, body: InstanceManifest['volumes'][number]): ExportManifest {
  return { format: EXPORT_FORMAT, version: EXPORT_VERSION, createdAt: m.createdAt, volume: body.volume, tree: body.tree, base: null, instance: null };
}

/** Every file the stream carries, in archive order: each volume's (roots first), then the section's. */
export function instanceArchiveFiles(m: InstanceManifest): { name: string; bytes: number; volumeId: string | null }[] {
  const out: { name: string; bytes: number; volumeId: string | null }[] = [];
  for (const body of m.volumes) {
    const vm = volumeManifestOf(m, body);
    for (const name of carriedFiles(vm)) out.push({ name, bytes: vm.tree.files[name]?.bytes ?? 0, volumeId: vm.volume.id });
  }
  for (const [name, bytes] of sectionFiles(m.instance)) out.push({ name, bytes, volumeId: null });
  return out;
}

/**
 * The manifest is as hostile as the rest: every volume body by the volume rules, volume ids
 * distinct (their file names carry the id, so no two volumes' files share a name), every volume a
 * disk of the instance, the section by its rules. Refusals: FILE_NAME_UNSAFE, IMAGE_UNSAFE_BACKING,
 * ARCHIVE_MANIFEST_MISMATCH.
 */
export function assertInstanceManifest(m: InstanceManifest): void {
  const ids = new Set<string>();
  for (const body of m.volumes) {
    if (ids.has(body.volume.id)) throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `manifest: volume ${body.volume.id} listed twice`);
    ids.add(body.volume.id);
    assertManifestConsistent(volumeManifestOf(m, body));
  }
  const disks = new Set(m.instance.disks.map((d) => d.volumeId));
  const notDisk = [...ids].find((id) => !disks.has(id));
  if (notDisk !== undefined) throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `manifest: volume ${notDisk} is not a disk of the instance`);
  assertInstanceSection(m.instance, m.volumes.map((b) => ({ volumeId: b.volume.id, snapshotIds: new Set(b.tree.snapshots.map((s) => s.id)) })));
}

/** Parse and check an instance manifest's text (ARCHIVE_CORRUPT when it is not one). */
export function parseInstanceManifest(raw: string): InstanceManifest {
  const m = manifestOfSchema(instanceManifestSchema, raw);
  assertInstanceManifest(m);
  return m;
}

/** What an export knows of one checkpoint (its row and its record on the share). */
export interface CheckpointFacts {
  id: string;
  name: string | null;
  description: string | null;
  created: string;
  mode: 'consistent' | 'live';
  quiesced: boolean;
  /** `point`: the snapshot point's file name the checkpoint's record holds (as taken), when known. */
  volumes: { volumeId: string; target: string; snapshotId: string; point?: string }[];
  excluded: string[];
  memoryBytes: number;
  definitionBytes: number;
  nvramBytes: number | null;
  /** The saved TPM state's length, version and digest (as its record says), or null. */
  tpm: { bytes: number; version: '1.2' | '2.0'; sha256: string } | null;
}

/**
 * A checkpoint's volume as the section carries it: its take-time point only when a merge moved
 * it off the snapshot's file (an archive of unmoved points reads as before).
 */
function sectionVolume(v: CheckpointFacts['volumes'][number], volumes: readonly ExportManifest[]): InstanceSection['checkpoints'][number]['volumes'][number] {
  const out = { volumeId: v.volumeId, target: v.target, snapshotId: v.snapshotId };
  const file = volumes.find((m) => m.volume.id === v.volumeId)?.tree.snapshots.find((s) => s.id === v.snapshotId)?.file;
  return v.point === undefined || v.point === file ? out : { ...out, point: v.point };
}

/** The manifest of an export: the volumes' manifests (full trees) and the instance's facts. Pure; checked as an import would. */
export function planInstanceManifest(
  volumes: readonly ExportManifest[], instance: { uuid: string; name: string; definitionBytes: number; disks: { volumeId: string; target: string }[] },
  checkpoints: readonly CheckpointFacts[], now = new Date(),
): InstanceManifest {
  const names = checkpointFileNames;
  const section: InstanceSection = {
    uuid: instance.uuid, name: instance.name, definition: { file: INSTANCE_DEFINITION_NAME, bytes: instance.definitionBytes }, disks: instance.disks,
    checkpoints: checkpoints.map((c) => ({
      id: c.id, name: c.name, description: c.description, created: c.created, mode: c.mode, quiesced: c.quiesced, volumes: c.volumes.map((v) => sectionVolume(v, volumes)), excluded: c.excluded,
      memory: { file: names(c.id).memory, bytes: c.memoryBytes }, definition: { file: names(c.id).definition, bytes: c.definitionBytes },
      nvram: c.nvramBytes === null ? null : { file: names(c.id).nvram, bytes: c.nvramBytes },
      tpm: c.tpm === null ? null : { file: names(c.id).tpm, ...c.tpm },
    })),
  };
  for (const v of volumes) {
    if (v.base !== null) throw new Error(`volume ${v.volume.id}: an instance archive carries full trees`);
  }
  const m: InstanceManifest = {
    format: INSTANCE_EXPORT_FORMAT, version: INSTANCE_EXPORT_VERSION, createdAt: now.toISOString(),
    volumes: volumes.map((v) => ({ volume: v.volume, tree: v.tree })), instance: section,
  };
  // The same rules an importer applies: an export never writes an archive its own import refuses.
  assertInstanceManifest(m);
  return m;
}
