/**
 * The definition a revert hands libvirt's restore, for an imported checkpoint (its memory file's
 * own definition names the source's mount): memory.domain.xml, placed by the import on this
 * share's files and pinned by the record's digest, is used instead of the image's, only its
 * disks pointed at the new overlays; a replaced copy, or one naming another file, is refused
 * before anything changes. A checkpoint without that digest still uses the image's definition.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { isStorageError } from '../../../../lib/core/errors.js';
import { checkpointPaths, definitionOnThisMount, pathOnThisMount } from '../../../../coordinator/checkpoint/plan.js';
import { planRevert, type CheckpointLibvirt } from '../../../../coordinator/checkpoint/runner.js';
import { fakeSaveImage } from '../../../fixtures/export/save-image.js';

const V1 = '11111111-1111-4111-8111-111111111111';
const INST = '33333333-3333-4333-8333-333333333333';
const CP = '44444444-4444-4444-8444-444444444444';

function definition(file: string): string {
  return `<domain type='kvm'>\n  <name>i</name>\n  <uuid>${INST}</uuid>\n  <devices>\n    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>`
    + `<source file='${file}'/><backingStore/><target dev='vdb' bus='virtio'/><serial>${V1}</serial></disk>\n  </devices>\n</domain>\n`;
}

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

async function code(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  return isStorageError(err) ? err.code : String(err);
}

describe('checkpoint revert of an imported checkpoint: the memory definition placed on this share', () => {
  let dir: string;
  let paths: ReturnType<typeof checkpointPaths>;
  let point: string;
  const sourceXml = definition(`/mnt/source/volume-${V1}`);
  /** The memory file's own definition, as libvirt reads it. */
  let imageXml = sourceXml;
  let placedXml: string;
  const libvirt = {
    saveImageGetXmlDesc: async () => imageXml,
    lookupByUuid: async () => { throw new Error('no NVRAM or TPM: not asked'); },
  } as unknown as CheckpointLibvirt;
  const deps = () => ({ libvirt, shareMount: dir, makeOverlay: async () => { throw new Error('not made by a plan'); } });

  function writeRecord(extra: Record<string, unknown>): void {
    const memory = fs.readFileSync(paths.memory);
    fs.writeFileSync(path.join(paths.dir, 'checkpoint.json'), JSON.stringify({
      id: CP, instanceUuid: INST, name: 'c1', description: '', created: '2026-12-07T00:00:00Z', mode: 'consistent', quiesced: false, status: 'available',
      volumes: [{ volumeId: V1, target: 'vdb', snapshotPoint: point, sizeBytes: 1024 ** 3 }], excluded: [], memorySize: memory.length,
      definitionSha256: sha256(fs.readFileSync(paths.definition)), ...extra,
    }));
  }

  beforeEach(() => {
    imageXml = sourceXml;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckimp-'));
    paths = checkpointPaths(dir, INST, CP);
    point = path.join(dir, `volume-${V1}`);
    placedXml = definition(point);
    fs.mkdirSync(paths.dir, { recursive: true });
    fs.writeFileSync(point, 'a snapshot point');
    fs.writeFileSync(paths.memory, fakeSaveImage(imageXml, Buffer.alloc(4096)));
    fs.writeFileSync(paths.definition, placedXml);
    fs.writeFileSync(paths.memoryDefinition, placedXml);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('restores from memory.domain.xml: only the disk source differs (the new overlay), the image\'s mount named nowhere', async () => {
    writeRecord({ memoryDefinitionSha256: sha256(placedXml) });
    const plan = await planRevert(deps(), INST, CP);
    const overlay = plan.overlays[0]!.path;
    expect(path.dirname(overlay)).to.equal(dir);
    expect(plan.restoreXml).to.equal(placedXml.replace(`<source file='${point}'/><backingStore/>`, `<source file='${overlay}'/>`));
    expect(plan.restoreXml).to.not.include('/mnt/source');
  });

  it('refuses a replaced memory.domain.xml (its digest is not the recorded one) before anything changes', async () => {
    writeRecord({ memoryDefinitionSha256: sha256(placedXml) });
    fs.writeFileSync(paths.memoryDefinition, definition(point).replace('<name>i</name>', '<name>other</name>'));
    expect(await code(planRevert(deps(), INST, CP))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['checkpoints', `volume-${V1}`]);
  });

  it('refuses up front a memory file whose own definition names other ids (imported with new ids before imports placed it): what to do is said, nothing changes', async () => {
    writeRecord({ memoryDefinitionSha256: sha256(placedXml) });
    imageXml = sourceXml.replace(INST, '55555555-5555-4555-8555-555555555555');
    const err = await planRevert(deps(), INST, CP).then(() => undefined, (e: unknown) => e);
    expect(isStorageError(err, 'CHECKPOINT_RESTORE_INCOMPATIBLE'), String(err)).to.equal(true);
    expect((err as Error).message).to.include('saved as instance 55555555-5555-4555-8555-555555555555').and.include('keep_ids=true');
    imageXml = sourceXml.replace(`<serial>${V1}</serial>`, '<serial>66666666-6666-4666-8666-666666666666</serial>');
    expect(await code(planRevert(deps(), INST, CP))).to.equal('CHECKPOINT_RESTORE_INCOMPATIBLE');
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['checkpoints', `volume-${V1}`]);
  });

  it('refuses a memory.domain.xml naming another file than the recorded point, even with its digest recorded', async () => {
    const foreign = definition(path.join(dir, 'etc-passwd'));
    fs.writeFileSync(paths.memoryDefinition, foreign);
    writeRecord({ memoryDefinitionSha256: sha256(foreign) });
    expect(await code(planRevert(deps(), INST, CP))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
  });

  it('without the digest (a checkpoint taken here) uses the image\'s definition, which here names another mount: refused', async () => {
    writeRecord({});
    expect(await code(planRevert(deps(), INST, CP))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
  });

  it('on a host mounting the share at another path than the importing service: every path read under this host\'s mount', async () => {
    // The import wrote the paths under its own mount of the share (importedMount).
    const svc = '/srv/service-mount/share';
    const svcXml = definition(`${svc}/volume-${V1}`).replace('</os>', '').replace('<devices>', `<os><nvram>${svc}/checkpoints/${INST}/nvram.fd</nvram></os>\n  <devices>`);
    fs.writeFileSync(paths.definition, svcXml);
    fs.writeFileSync(paths.memoryDefinition, svcXml);
    const memory = fs.readFileSync(paths.memory);
    fs.writeFileSync(path.join(paths.dir, 'checkpoint.json'), JSON.stringify({
      id: CP, instanceUuid: INST, name: 'c1', description: '', created: '2026-12-07T00:00:00Z', mode: 'consistent', quiesced: false, status: 'available',
      volumes: [{ volumeId: V1, target: 'vdb', snapshotPoint: `${svc}/volume-${V1}`, sizeBytes: 1024 ** 3 }], excluded: [], memorySize: memory.length,
      definitionSha256: sha256(svcXml), memoryDefinitionSha256: sha256(svcXml), importedMount: svc,
    }));
    const own = await planRevert(deps(), INST, CP);
    expect(own.record.volumes[0]!.snapshotPoint).to.equal(point);
    const overlay = own.overlays[0]!.path;
    expect(path.dirname(overlay)).to.equal(dir);
    const onHost = svcXml.replaceAll(`${svc}/volume-${V1}'/><backingStore/>`, `${overlay}'/>`).replace(`${svc}/checkpoints`, `${dir}/checkpoints`);
    expect(own.restoreXml).to.equal(onHost);
    expect(own.persistentXml).to.equal(onHost);
    expect(own.restoreXml + own.persistentXml).to.not.include(svc);
  });

  it('refuses a record whose memory definition digest or imported mount is malformed', async () => {
    writeRecord({ memoryDefinitionSha256: 'not-a-digest' });
    expect(await code(planRevert(deps(), INST, CP))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
    for (const importedMount of ['relative/share', '/srv/../etc', '/', '/srv/share/', 7]) {
      writeRecord({ memoryDefinitionSha256: sha256(placedXml), importedMount });
      expect(await code(planRevert(deps(), INST, CP)), String(importedMount)).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
    }
  });
});

describe('an imported checkpoint\'s paths on this host\'s mount of the share', () => {
  it('moves a path under the importing service\'s mount, leaves one already here or elsewhere (idempotent, nested mounts too)', () => {
    expect(pathOnThisMount('/srv/a/volume-x', '/srv/a', '/mnt/b')).to.equal('/mnt/b/volume-x');
    expect(pathOnThisMount('/srv/ab/volume-x', '/srv/a', '/mnt/b')).to.equal('/srv/ab/volume-x');
    expect(pathOnThisMount('/usr/share/OVMF/vars.fd', '/srv/a', '/mnt/b')).to.equal('/usr/share/OVMF/vars.fd');
    expect(pathOnThisMount('/srv/a/x/volume-x', '/srv/a', '/srv/a/x')).to.equal('/srv/a/x/volume-x');
    expect(pathOnThisMount(pathOnThisMount('/srv/a/v', '/srv/a', '/srv/a/x'), '/srv/a', '/srv/a/x')).to.equal('/srv/a/x/v');
  });

  it('rewrites only disk sources and the NVRAM path in a definition; the rest byte for byte', () => {
    const xml = `<domain>\n <os><loader readonly='yes'>/srv/a/loader.fd</loader><nvram template='/usr/x.fd'>/srv/a/checkpoints/i/nvram.fd</nvram></os>`
      + `<devices><disk><source file="/srv/a/volume-x"/></disk><disk><source file='/elsewhere/volume-y' index='2'/></disk></devices>\n</domain>`;
    expect(definitionOnThisMount(xml, '/srv/a', '/mnt/b')).to.equal(xml
      .replace('>/srv/a/checkpoints/i/nvram.fd<', '>/mnt/b/checkpoints/i/nvram.fd<').replace('"/srv/a/volume-x"', '"/mnt/b/volume-x"'));
    expect(definitionOnThisMount(xml, '/srv/a', '/srv/a')).to.equal(xml);
  });
});
