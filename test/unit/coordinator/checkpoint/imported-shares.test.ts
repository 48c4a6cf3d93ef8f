/**
 * An imported checkpoint whose volumes the import put on two shares (issue 15 item 4, the
 * per-volume share map): the record names each share's mount on the importing service (the
 * checkpoint's share as importedMount, the other as importedShares), and a host mounting them at
 * other paths reads every path under its own mount of each: the snapshot points, the overlays
 * the revert makes, the restore and persistent definitions. A malformed importedShares entry is
 * refused before anything changes.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { isStorageError } from '../../../../lib/core/errors.js';
import { checkpointPaths, pathOnTheseMounts } from '../../../../coordinator/checkpoint/plan.js';
import type { ImportedShare } from '../../../../coordinator/checkpoint/record.js';
import { planRevert, type CheckpointLibvirt } from '../../../../coordinator/checkpoint/runner.js';
import { hostMountOf } from '../../../../coordinator/checkpoint/wiring.js';
import { mountPointFor } from '../../../../lib/core/share-hash.js';
import { fakeSaveImage } from '../../../fixtures/export/save-image.js';

const V1 = '11111111-1111-4111-8111-111111111111';
const V2 = '22222222-2222-4222-8222-222222222222';
const INST = '33333333-3333-4333-8333-333333333333';
const CP = '44444444-4444-4444-8444-444444444444';
const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

function definition(f1: string, f2: string): string {
  const disk = (file: string, dev: string, serial: string) => `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${file}'/><backingStore/><target dev='${dev}' bus='virtio'/><serial>${serial}</serial></disk>`;
  return `<domain type='kvm'>\n  <name>i</name>\n  <uuid>${INST}</uuid>\n  <devices>\n    ${disk(f1, 'vdb', V1)}\n    ${disk(f2, 'vdc', V2)}\n  </devices>\n</domain>\n`;
}

describe('checkpoint revert of an imported checkpoint whose volumes sit on two shares', () => {
  let scratch = '';
  let hostA = '';
  let hostB = '';
  const svcA = '/srv/service/share-a';
  const svcB = '/srv/service/mnt/0123abcd';
  const shareB: ImportedShare = { mount: svcB, address: 'gluster1:/tier1', type: 'glusterfs' };
  const svcXml = definition(`${svcA}/volume-${V1}`, `${svcB}/volume-${V2}`);
  // The memory image names the instance's uuid and serials (as an import now writes them), only other paths.
  const libvirt = {
    lookupByUuid: async () => { throw new Error('no NVRAM or TPM: not asked'); },
    saveImageGetXmlDesc: async () => definition('/mnt/source/x', '/mnt/source/y'),
  } as unknown as CheckpointLibvirt;
  const deps = () => ({ libvirt, shareMount: hostA, makeOverlay: async () => { throw new Error('not made by a plan'); }, mountOf: (s: ImportedShare) => (s.address === shareB.address ? hostB : s.mount) });

  function writeRecord(extra: Record<string, unknown>): void {
    const paths = checkpointPaths(hostA, INST, CP);
    fs.writeFileSync(path.join(paths.dir, 'checkpoint.json'), JSON.stringify({
      id: CP, instanceUuid: INST, name: 'c1', description: '', created: '2026-12-07T00:00:00Z', mode: 'consistent', quiesced: false, status: 'available',
      volumes: [{ volumeId: V1, target: 'vdb', snapshotPoint: `${svcA}/volume-${V1}`, sizeBytes: 1024 ** 3 }, { volumeId: V2, target: 'vdc', snapshotPoint: `${svcB}/volume-${V2}`, sizeBytes: 1024 ** 3 }],
      excluded: [], memorySize: fs.statSync(paths.memory).size, definitionSha256: sha256(svcXml), memoryDefinitionSha256: sha256(svcXml), importedMount: svcA, ...extra,
    }));
  }

  beforeEach(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ckshares-'));
    [hostA, hostB] = [path.join(scratch, 'a'), path.join(scratch, 'mnt', 'b')];
    const paths = checkpointPaths(hostA, INST, CP);
    fs.mkdirSync(paths.dir, { recursive: true });
    fs.mkdirSync(hostB, { recursive: true });
    fs.writeFileSync(path.join(hostA, `volume-${V1}`), 'point 1');
    fs.writeFileSync(path.join(hostB, `volume-${V2}`), 'point 2');
    fs.writeFileSync(paths.memory, fakeSaveImage(definition('/mnt/source/x', '/mnt/source/y'), Buffer.alloc(4096)));
    fs.writeFileSync(paths.definition, svcXml);
    fs.writeFileSync(paths.memoryDefinition, svcXml);
  });
  afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('reads each volume\'s paths under this host\'s mount of its own share: points, overlays, both definitions', async () => {
    writeRecord({ importedShares: [shareB] });
    const plan = await planRevert(deps(), INST, CP);
    expect(plan.record.volumes.map((v) => v.snapshotPoint)).to.deep.equal([path.join(hostA, `volume-${V1}`), path.join(hostB, `volume-${V2}`)]);
    const [o1, o2] = plan.overlays.map((o) => o.path) as [string, string];
    expect([path.dirname(o1), path.dirname(o2)]).to.deep.equal([hostA, hostB]);
    const onHost = svcXml.replace(`${svcA}/volume-${V1}'/><backingStore/>`, `${o1}'/>`).replace(`${svcB}/volume-${V2}'/><backingStore/>`, `${o2}'/>`);
    expect(plan.restoreXml).to.equal(onHost);
    expect(plan.persistentXml).to.equal(onHost);
  });

  it('without importedShares the second share\'s paths are not moved: its point is not found here, nothing changes', async () => {
    writeRecord({});
    const err = await planRevert(deps(), INST, CP).then(() => undefined, (e: unknown) => e);
    expect(isStorageError(err) ? err.code : String(err)).to.equal('CHECKPOINT_VOLUME_GONE');
  });

  it('refuses a malformed importedShares entry (CHECKPOINT_DEFINITION_UNSAFE)', async () => {
    const bad: unknown[] = [
      'x', [{ ...shareB, mount: 'relative' }], [{ ...shareB, mount: '/srv/../etc' }], [{ ...shareB, mount: '/' }], [{ ...shareB, type: 'ceph' }],
      [{ ...shareB, address: '' }], [{ ...shareB, address: 'a\nb' }], [shareB, { ...shareB, address: 'other:/x' }],
    ];
    for (const importedShares of bad) {
      writeRecord({ importedShares });
      const err = await planRevert(deps(), INST, CP).then(() => undefined, (e: unknown) => e);
      expect(isStorageError(err) ? err.code : String(err), JSON.stringify(importedShares)).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
    }
  });
});

describe('an imported checkpoint\'s paths on this host\'s mounts of several shares', () => {
  it('moves each path by the move whose mount it is under, once; others stay', () => {
    const moves = [{ from: '/srv/a', to: '/mnt/a' }, { from: '/srv/b', to: '/srv/a' }];
    expect(pathOnTheseMounts('/srv/a/volume-x', moves)).to.equal('/mnt/a/volume-x');
    expect(pathOnTheseMounts('/srv/b/volume-y', moves)).to.equal('/srv/a/volume-y');
    expect(pathOnTheseMounts('/srv/bc/volume-y', moves)).to.equal('/srv/bc/volume-y');
    expect(pathOnTheseMounts('/usr/share/OVMF/vars.fd', moves)).to.equal('/usr/share/OVMF/vars.fd');
  });

  it('this host\'s mount of a share: <mountBase>/<hash> as attach mounts it, a local share at its own path', () => {
    const of = hostMountOf('/var/lib/qcs/mnt');
    expect(of({ mount: '/x', address: 'gluster1:/tier1', type: 'glusterfs' })).to.equal(mountPointFor('/var/lib/qcs/mnt', 'gluster1:/tier1'));
    expect(of({ mount: '/x', address: '/srv/tier2', type: 'local' })).to.equal('/srv/tier2');
  });
});
