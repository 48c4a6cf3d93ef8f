/** The instance archive's manifest: planned from the volumes' manifests and checkpoints, checked as an import would. */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { isStorageError, type ErrorCode } from '../../../../../lib/core/errors.js';
import { instanceArchiveFiles, parseInstanceManifest, planInstanceManifest, type CheckpointFacts } from '../../../../../drivers/remotefs/export/instance-manifest.js';
import type { ExportManifest } from '../../../../../drivers/contract/export-manifest.js';

const [inst, v1, s1, cp] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];

const volume = (): ExportManifest => ({
  format: 'qcowshare-volume-export', version: 1, createdAt: '2026-12-07T00:00:00.000Z',
  volume: { id: v1, name: 'root', description: null, metadata: {}, bootable: true, sizeBytes: 1 << 20 },
  tree: {
    active: `volume-${v1}.${cp}`,
    files: { [`volume-${v1}`]: { format: 'qcow2', backing: null, bytes: 1000 }, [`volume-${v1}.${cp}`]: { format: 'qcow2', backing: `volume-${v1}`, bytes: 500 } },
    snapshots: [{ id: s1, name: null, description: null, metadata: { checkpoint_id: cp }, file: `volume-${v1}`, parent: null, hidden: false, sizeBytes: 1 << 20, createdAt: '2026-12-07T00:00:00Z' }],
  },
  base: null, instance: null,
});
const checkpoint = (): CheckpointFacts => ({
  id: cp, name: 'c1', description: null, created: '2026-12-07T00:00:00Z', mode: 'consistent', quiesced: false,
  volumes: [{ volumeId: v1, target: 'vda', snapshotId: s1 }], excluded: [], memoryBytes: 4096, definitionBytes: 700, nvramBytes: null, tpm: null,
});
const plan = () => planInstanceManifest([volume()], { uuid: inst, name: 'vm', definitionBytes: 800, disks: [{ volumeId: v1, target: 'vda' }] }, [checkpoint()], new Date(0));

/** The manifest as hostile JSON: any field may be set to anything. */
type Loose = Omit<ReturnType<typeof plan>, 'format'> & { extra?: unknown; format: string; volumes: { base?: unknown }[] };
const refused = (mutate: (m: Loose) => void, code: ErrorCode) => {
  const m = JSON.parse(JSON.stringify(plan())) as Loose;
  mutate(m);
  try {
    parseInstanceManifest(JSON.stringify(m));
  } catch (err) {
    expect(isStorageError(err, code), String(err)).to.equal(true);
    return;
  }
  expect.fail('accepted');
};

describe('export: the instance archive manifest', () => {
  it('plans volumes and checkpoints; lists every file in archive order (volume roots first, then the section)', () => {
    const m = plan();
    expect(parseInstanceManifest(JSON.stringify(m))).to.deep.equal(m);
    expect(instanceArchiveFiles(m).map((f) => [f.name, f.bytes])).to.deep.equal([
      [`volume-${v1}`, 1000], [`volume-${v1}.${cp}`, 500], ['instance.domain.xml', 800], [`checkpoint-${cp}.domain.xml`, 700], [`checkpoint-${cp}.memory`, 4096],
    ]);
  });

  it('refuses what an export must never write: a checkpoint naming a snapshot the volume does not have', () => {
    const c = checkpoint();
    c.volumes[0]!.snapshotId = randomUUID();
    expect(() => planInstanceManifest([volume()], { uuid: inst, name: 'vm', definitionBytes: 800, disks: [{ volumeId: v1, target: 'vda' }] }, [c])).to.throw(/not in volume/);
  });

  it('refuses hostile manifests: foreign names, a volume twice or not a disk, a foreign snapshot, incremental bodies, extra fields', () => {
    refused((m) => { m.volumes[0]!.tree.files['../x'] = { format: 'qcow2', backing: null, bytes: 1 }; }, 'FILE_NAME_UNSAFE');
    refused((m) => { m.volumes[0]!.tree.files[`volume-${v1}`]!.backing = '/etc/passwd'; }, 'IMAGE_UNSAFE_BACKING');
    refused((m) => { m.volumes.push(m.volumes[0]!); }, 'ARCHIVE_MANIFEST_MISMATCH');
    refused((m) => { m.instance.disks[0]!.volumeId = randomUUID(); }, 'ARCHIVE_MANIFEST_MISMATCH');
    refused((m) => { m.instance.checkpoints[0]!.volumes[0]!.snapshotId = randomUUID(); }, 'ARCHIVE_MANIFEST_MISMATCH');
    refused((m) => { m.instance.checkpoints[0]!.memory.file = '../memory'; }, 'FILE_NAME_UNSAFE');
    refused((m) => { m.volumes[0]!.base = { snapshotId: s1, files: {} }; }, 'ARCHIVE_CORRUPT');
    refused((m) => { m.format = 'qcowshare-volume-export'; }, 'ARCHIVE_CORRUPT');
    refused((m) => { m.extra = 1; }, 'ARCHIVE_CORRUPT');
  });
});
