/**
 * The instance section of an export archive (issue 15 item 4). A volume archive (manifest.ts) keeps
 * `instance: null` and refuses anything else; an instance archive is its own format
 * (INSTANCE_EXPORT_FORMAT, instance-manifest.ts), one ordinary tar stream as well:
 *
 *   manifest.json                      format qcowshare-instance-export: `volumes` (one volume
 *                                      manifest body per volume: volume, tree, no base) and
 *                                      `instance` (this section)
 *   volume-<vid>[.<uuid>] ...          every volume's files, each volume's roots first; the names
 *                                      carry the volume id, so one flat archive holds them all
 *                                      under bare names (the importer's one-name rule holds)
 *   instance.domain.xml                the instance's persistent definition at the export
 *   checkpoint-<cid>.domain.xml        each checkpoint's saved definition (domain.xml)
 *   checkpoint-<cid>.memory            each checkpoint's memory file (libvirt save image)
 *   checkpoint-<cid>.nvram             each checkpoint's NVRAM, when it has one
 *   checkpoint-<cid>.tpm               each checkpoint's saved TPM state (tpm.permall), when it
 *                                      has one; its version and digest are in the section, as
 *                                      in the coordinator's record (coordinator/checkpoint/tpm.ts)
 *   SHA256SUMS                         every file above
 *
 * Every checkpoint names, per volume, the snapshot of that volume's tree holding its disk at the
 * checkpoint (a checkpoint is ordinary snapshot rows: issue 14), so the volumes' trees carry the
 * disks and this section only the memory, definitions and NVRAM. What the section must satisfy
 * is checked here, purely; the definitions' contents are checked by definition-check.ts.
 */
import { z } from 'zod';
import { StorageError } from '../../../lib/core/errors.js';
import { isOwnFileName } from '../../../lib/core/volume-names.js';
import { RECORD_TEXT_MAX, recordText } from '../../../lib/core/record-text.js';
import { archiveId } from './manifest.js';

export const INSTANCE_EXPORT_FORMAT = 'qcowshare-instance-export';
export const INSTANCE_DEFINITION_NAME = 'instance.domain.xml';
/** A definition is read whole into memory (it is parsed as hostile XML): larger is refused unread. */
export const MAX_DEFINITION_BYTES = 1024 * 1024;

/** Every id of the section (instance, checkpoints, volumes, snapshots) by the volume archive's one rule: a lower-case UUID. */
const uuid = archiveId;
/** A checkpoint's name and description become its row as they are: the columns' widths (255, 1024). */
const checkpointName = recordText(RECORD_TEXT_MAX).nullable();
const checkpointDescription = recordText(1024).nullable();

/**
 * A file of the section: its bare name in the archive and its length. Its checksum is in the
 * trailing SHA256SUMS like every volume file's: a memory file is as large as the guest's RAM, and
 * a checksum up front would cost a second read of it at the export.
 */
const carried = z.strictObject({ file: z.string().max(255), bytes: z.number().int().nonnegative() });

const checkpointSchema = z.strictObject({
  id: uuid,
  name: checkpointName,
  description: checkpointDescription,
  created: z.string().max(64),
  mode: z.enum(['consistent', 'live']),
  quiesced: z.boolean(),
  /**
   * Per volume: the snapshot of its tree holding the disk at the checkpoint. `point`: the file
   * name the checkpoint recorded at the take, only when it is no longer that snapshot's file (a
   * delete by commit moved the point into a lower file): the checkpoint's definitions still name it.
   */
  volumes: z.array(z.strictObject({ volumeId: uuid, target: z.string().regex(/^[a-z]{2,3}[a-z]{1,2}$/), snapshotId: uuid, point: z.string().max(255).optional() })).max(64),
  /** Targets excluded at the take (kept as they are on revert). */
  excluded: z.array(z.string().max(32)).max(64),
  memory: carried,
  definition: carried,
  nvram: carried.nullable(),
  /** The emulated TPM's saved state: absent in archives written before it travelled. */
  tpm: z.strictObject({ file: z.string().max(255), bytes: z.number().int().nonnegative(), version: z.enum(['1.2', '2.0']), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).nullable().default(null),
});

/** swtpm's permanent state is tens of KiB; larger is not one (the coordinator's limit too). */
export const MAX_TPM_BYTES = 16 * 1024 * 1024;

export const instanceSectionSchema = z.strictObject({
  uuid,
  name: z.string().max(255),
  definition: carried,
  /** The instance's disks: volume and target (the volumes' own manifests are in `volumes`). */
  disks: z.array(z.strictObject({ volumeId: uuid, target: z.string().regex(/^[a-z]{2,3}[a-z]{1,2}$/) })).min(1).max(64),
  checkpoints: z.array(checkpointSchema).max(1000),
});

export type InstanceSection = z.infer<typeof instanceSectionSchema>;
export type InstanceCheckpoint = z.infer<typeof checkpointSchema>;

/** What the section needs to know of each volume carried in the archive: its snapshots' ids. */
export interface CarriedVolume {
  volumeId: string;
  snapshotIds: ReadonlySet<string>;
}

/** The bare archive name of each file a checkpoint brings. */
export function checkpointFileNames(id: string): { memory: string; definition: string; nvram: string; tpm: string } {
  return { memory: `checkpoint-${id}.memory`, definition: `checkpoint-${id}.domain.xml`, nvram: `checkpoint-${id}.nvram`, tpm: `checkpoint-${id}.tpm` };
}

function mismatch(message: string, details: Record<string, unknown> = {}): StorageError {
  return new StorageError('ARCHIVE_MANIFEST_MISMATCH', `instance section: ${message}`, { details });
}

/** Files the section carries, in archive order (after every volume's files): name -> announced length. */
export function sectionFiles(s: InstanceSection): Map<string, number> {
  const out = new Map<string, number>([[s.definition.file, s.definition.bytes]]);
  for (const c of s.checkpoints) {
    out.set(c.definition.file, c.definition.bytes);
    out.set(c.memory.file, c.memory.bytes);
    if (c.nvram) out.set(c.nvram.file, c.nvram.bytes);
    if (c.tpm) out.set(c.tpm.file, c.tpm.bytes);
  }
  return out;
}

/**
 * The section is as hostile as the rest: each file under the one name its role allows (so no name
 * can collide with a volume file or another checkpoint's), definitions within MAX_DEFINITION_BYTES,
 * every disk one of the archive's volumes at most once per target, every checkpoint's snapshot one
 * of that volume's tree, checkpoint ids unique. Refusals: FILE_NAME_UNSAFE, ARCHIVE_MANIFEST_MISMATCH.
 */
export function assertInstanceSection(s: InstanceSection, volumes: readonly CarriedVolume[]): void {
  const byId = new Map(volumes.map((v) => [v.volumeId, v]));
  const named = (got: string, want: string, what: string): void => {
    if (got !== want) throw new StorageError('FILE_NAME_UNSAFE', `instance section: ${what} must be named ${want}, not ${JSON.stringify(got.slice(0, 200))}`, { details: { name: got.slice(0, 200), what } });
  };
  const definitionSize = (bytes: number, what: string): void => {
    if (bytes > MAX_DEFINITION_BYTES) throw mismatch(`${what} is ${bytes} bytes, more than ${MAX_DEFINITION_BYTES}`);
  };
  named(s.definition.file, INSTANCE_DEFINITION_NAME, 'the instance definition');
  definitionSize(s.definition.bytes, 'the instance definition');
  const targets = new Set<string>();
  for (const d of s.disks) {
    if (!byId.has(d.volumeId)) throw mismatch(`disk ${d.target} is volume ${d.volumeId}, not a volume of the archive`);
    if (targets.has(d.target)) throw mismatch(`target ${d.target} listed twice`);
    targets.add(d.target);
  }
  if (new Set(s.disks.map((d) => d.volumeId)).size !== s.disks.length) throw mismatch('a volume is listed as two disks');
  const ids = new Set<string>();
  for (const c of s.checkpoints) {
    if (ids.has(c.id)) throw mismatch(`checkpoint ${c.id} listed twice`);
    ids.add(c.id);
    const names = checkpointFileNames(c.id);
    named(c.memory.file, names.memory, `checkpoint ${c.id}'s memory`);
    named(c.definition.file, names.definition, `checkpoint ${c.id}'s definition`);
    definitionSize(c.definition.bytes, `checkpoint ${c.id}'s definition`);
    if (c.nvram) named(c.nvram.file, names.nvram, `checkpoint ${c.id}'s NVRAM`);
    if (c.tpm) {
      named(c.tpm.file, names.tpm, `checkpoint ${c.id}'s TPM state`);
      if (c.tpm.bytes > MAX_TPM_BYTES) throw mismatch(`checkpoint ${c.id}'s TPM state is ${c.tpm.bytes} bytes, more than ${MAX_TPM_BYTES}`);
    }
    for (const v of c.volumes) {
      const vol = byId.get(v.volumeId);
      if (!vol) throw mismatch(`checkpoint ${c.id} names volume ${v.volumeId}, not a volume of the archive`);
      if (!vol.snapshotIds.has(v.snapshotId)) throw mismatch(`checkpoint ${c.id}: snapshot ${v.snapshotId} is not in volume ${v.volumeId}'s tree`);
      if (v.point !== undefined && !isOwnFileName(v.point, v.volumeId)) {
        const shown = String(v.point).slice(0, 200);
        throw new StorageError('FILE_NAME_UNSAFE', `instance section: checkpoint ${c.id}'s point ${JSON.stringify(shown)} is not a file name of volume ${v.volumeId}`, { details: { name: shown, what: 'checkpoint point' } });
      }
    }
  }
}
