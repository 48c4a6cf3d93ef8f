/** The instance section's checks (the seam of issue 15 item 4; pure, not wired into import yet). */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { isStorageError, type ErrorCode } from '../../../../../lib/core/errors.js';
import { assertInstanceSection, checkpointFileNames, instanceSectionSchema, sectionFiles, type InstanceSection } from '../../../../../drivers/remotefs/export/instance-section.js';

const [v1, v2, s1, s2, cp] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
const volumes = [{ volumeId: v1, snapshotIds: new Set([s1]) }, { volumeId: v2, snapshotIds: new Set([s2]) }];
const good = (): InstanceSection => ({
  uuid: randomUUID(), name: 'vm', definition: { file: 'instance.domain.xml', bytes: 900 },
  disks: [{ volumeId: v1, target: 'vda' }, { volumeId: v2, target: 'vdb' }],
  checkpoints: [{
    id: cp, name: 'c', description: null, created: '2026-12-07T00:00:00Z', mode: 'consistent', quiesced: false,
    volumes: [{ volumeId: v1, target: 'vda', snapshotId: s1 }, { volumeId: v2, target: 'vdb', snapshotId: s2 }], excluded: [],
    memory: { file: checkpointFileNames(cp).memory, bytes: 1 << 20 },
    definition: { file: checkpointFileNames(cp).definition, bytes: 1000 },
    nvram: null,
    tpm: null,
  }],
});

const refused = (mutate: (s: InstanceSection) => void, code: ErrorCode) => {
  const s = good();
  mutate(s);
  try {
    assertInstanceSection(s, volumes);
  } catch (err) {
    expect(isStorageError(err, code), String(err)).to.equal(true);
    return;
  }
  expect.fail('accepted');
};

describe('export: the instance section (seam)', () => {
  it('accepts a consistent section and lists its files in archive order', () => {
    expect(instanceSectionSchema.safeParse(good()).success).to.equal(true);
    assertInstanceSection(good(), volumes);
    expect([...sectionFiles(good()).keys()]).to.deep.equal(['instance.domain.xml', `checkpoint-${cp}.domain.xml`, `checkpoint-${cp}.memory`]);
  });

  it('refuses files under other names, foreign volumes and snapshots, duplicates, oversize definitions', () => {
    refused((s) => { s.definition.file = '../domain.xml'; }, 'FILE_NAME_UNSAFE');
    refused((s) => { s.checkpoints[0]!.memory.file = `volume-${v1}`; }, 'FILE_NAME_UNSAFE');
    refused((s) => { s.disks[0]!.volumeId = randomUUID(); }, 'ARCHIVE_MANIFEST_MISMATCH');
    refused((s) => { s.disks[1]!.target = 'vda'; }, 'ARCHIVE_MANIFEST_MISMATCH');
    refused((s) => { s.checkpoints[0]!.volumes[0]!.snapshotId = s2; }, 'ARCHIVE_MANIFEST_MISMATCH');
    refused((s) => { s.checkpoints.push(structuredClone(s.checkpoints[0]!)); }, 'ARCHIVE_MANIFEST_MISMATCH');
    refused((s) => { s.checkpoints[0]!.definition.bytes = 2 << 20; }, 'ARCHIVE_MANIFEST_MISMATCH');
    expect(instanceSectionSchema.safeParse({ ...good(), extra: 1 }).success).to.equal(false);
  });

  it('carries a checkpoint\'s saved TPM state under its one name, within the size of a TPM state; older sections without it parse', () => {
    const tpm = { file: checkpointFileNames(cp).tpm, bytes: 9000, version: '2.0' as const, sha256: 'a'.repeat(64) };
    const s = good();
    s.checkpoints[0]!.tpm = tpm;
    assertInstanceSection(s, volumes);
    expect([...sectionFiles(s).keys()]).to.deep.equal(['instance.domain.xml', `checkpoint-${cp}.domain.xml`, `checkpoint-${cp}.memory`, `checkpoint-${cp}.tpm`]);
    refused((x) => { x.checkpoints[0]!.tpm = { ...tpm, file: `checkpoint-${cp}.nvram` }; }, 'FILE_NAME_UNSAFE');
    refused((x) => { x.checkpoints[0]!.tpm = { ...tpm, bytes: 64 << 20 }; }, 'ARCHIVE_MANIFEST_MISMATCH');
    const old = JSON.parse(JSON.stringify(good())) as { checkpoints: Record<string, unknown>[] };
    delete old.checkpoints[0]!.tpm;
    const parsed = instanceSectionSchema.safeParse(old);
    expect(parsed.success && parsed.data.checkpoints[0]!.tpm).to.equal(null);
    expect(instanceSectionSchema.safeParse({ ...good(), checkpoints: [{ ...good().checkpoints[0], tpm: { ...tpm, version: '3.0' } }] }).success).to.equal(false);
  });

  it('carries a checkpoint\'s moved take-time point only as a file name of that volume', () => {
    const s = good();
    s.checkpoints[0]!.volumes[0]!.point = `volume-${v1}.${randomUUID()}`;
    expect(instanceSectionSchema.safeParse(s).success).to.equal(true);
    assertInstanceSection(s, volumes);
    refused((x) => { x.checkpoints[0]!.volumes[0]!.point = `volume-${v2}`; }, 'FILE_NAME_UNSAFE');
    refused((x) => { x.checkpoints[0]!.volumes[0]!.point = `/mnt/volume-${v1}`; }, 'FILE_NAME_UNSAFE');
    refused((x) => { x.checkpoints[0]!.volumes[0]!.point = 'checkpoint.json'; }, 'FILE_NAME_UNSAFE');
  });
});
