/**
 * An imported instance defined stopped on this host (coordinator/checkpoint/define-imported.ts):
 * the pure rewrite of the imported definition onto each volume's active file, and every refusal
 * (another instance's definition, a disk that is not one of the instance's volumes, a file that is
 * not the volume's own, a volume missing from the definition); then the define on a small
 * in-memory libvirt: defined once, never started, refused with nothing defined when it exists.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { defineImported, planImportedDefine } from '../../../../coordinator/checkpoint/define-imported.js';
import type { CheckpointDeps } from '../../../../coordinator/checkpoint/runner.js';
import { parseDomainXml } from '../../../../coordinator/domain/disks.js';
import { isStorageError } from '../../../../lib/core/errors.js';
import { DomainState, VIR_ERR_NO_DOMAIN, libvirtError, type DomainRef } from '../../../../lib/libvirt/index.js';
import { importedDefinitionPath } from '../../../../lib/protocol/imported-instance.js';

const inst = randomUUID();
const v1 = randomUUID();
const v2 = randomUUID();
const disk = (target: string, vol: string, file: string, backing = '') => `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${file}'/>${backing}<target dev='${target}' bus='virtio'/><serial>${vol}</serial></disk>`;
const domain = (uuid: string, disks: string) => `<domain type='kvm'><name>g</name><uuid>${uuid}</uuid><memory>65536</memory><devices>${disks}<disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk></devices></domain>`;
const XML = domain(inst, disk('vdb', v1, `/mnt/s/volume-${v1}`, `<backingStore type='file'><source file='/mnt/s/volume-${v1}.x'/></backingStore>`) + disk('vdc', v2, `/mnt/s/volume-${v2}`));
const sources = [{ volumeId: v1, file: `volume-${v1}.${randomUUID()}` }, { volumeId: v2, file: `volume-${v2}` }];
const refusal = (fn: () => unknown): string => {
  try { fn(); } catch (err) { expect(isStorageError(err, 'CHECKPOINT_DEFINITION_UNSAFE'), String(err)).to.equal(true); return (err as Error).message; }
  throw new Error('not refused');
};

describe('define an imported instance (coordinator)', () => {
  it('points each disk at its volume\'s active file in the same directory, backing elements dropped, the rest kept', () => {
    const out = planImportedDefine(XML, inst, sources);
    const d = parseDomainXml(out);
    expect(d.disks.filter((x) => x.device === 'disk').map((x) => [x.target, x.serial, x.chain.map((c) => c.path)])).to.deep.equal([
      ['vdb', v1, [`/mnt/s/${sources[0]?.file}`]], ['vdc', v2, [`/mnt/s/volume-${v2}`]],
    ]);
    expect(out).to.not.contain('backingStore');
    expect(out).to.contain('<memory>65536</memory>');
  });

  it('refuses another instance\'s definition, a stranger disk or file, and a volume missing from it', () => {
    expect(refusal(() => planImportedDefine(XML, randomUUID(), sources))).to.match(/not of instance/);
    expect(refusal(() => planImportedDefine(XML, inst, [sources[0] as never]))).to.match(/disk vdc \(serial [0-9a-f-]+\) is not one of the instance's volumes/);
    expect(refusal(() => planImportedDefine(domain(inst, disk('vdb', v1, '/etc/shadow')), inst, [sources[0] as never]))).to.match(/names \/etc\/shadow/);
    expect(refusal(() => planImportedDefine(domain(inst, disk('vdb', v1, `/mnt/s/../s/volume-${v1}`)), inst, [sources[0] as never]))).to.match(/not a file of volume/);
    expect(refusal(() => planImportedDefine(XML, inst, [{ volumeId: v1, file: `volume-${v2}` }, sources[1] as never]))).to.match(/is not a file of volume/);
    expect(refusal(() => planImportedDefine(domain(inst, disk('vdb', v1, `/mnt/s/volume-${v1}`)), inst, sources))).to.match(/are not disks of the definition/);
  });

  describe('on a libvirt stand-in', () => {
    let dir = '';
    const s = { defined: null as string | null, started: 0 };
    const dom = { name: 'g', uuid: inst, id: -1 } as unknown as DomainRef;
    const noDomain = () => libvirtError({ code: VIR_ERR_NO_DOMAIN, domain: 10, message: 'Domain not found', level: 2 } as never, 'lookupByUuid');
    const deps = () => ({
      shareMount: dir,
      libvirt: {
        lookupByUuid: async () => { if (s.defined === null) throw noDomain(); return dom; },
        defineXml: async (xml: string) => { s.defined = xml; return dom; },
        create: async () => { s.started += 1; return dom; },
        getState: async () => ({ state: DomainState.SHUTOFF, reason: 0 }),
        getXmlDesc: async () => s.defined as string,
      },
    }) as unknown as CheckpointDeps;
    before(async () => { dir = await mkdtemp(path.join(tmpdir(), 'qcs-defimp-')); });
    after(async () => { await rm(dir, { recursive: true, force: true }); });

    it('no imported definition: NOT_FOUND, nothing defined', async () => {
      const err = await defineImported(deps(), inst, sources).catch((e: unknown) => e);
      expect(isStorageError(err, 'NOT_FOUND'), String(err)).to.equal(true);
      expect(s.defined).to.equal(null);
    });

    it('defines it once from the share, stopped; a second define is refused (CONFLICT) and changes nothing', async () => {
      const file = importedDefinitionPath(dir, inst);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, XML);
      const p = await defineImported(deps(), inst, sources);
      expect([p.present, p.active]).to.deep.equal([true, false]);
      expect(p.disks.find((d) => d.target === 'vdb')?.file).to.equal(`/mnt/s/${sources[0]?.file}`);
      expect(s.started, 'never started').to.equal(0);
      const first = s.defined;
      const err = await defineImported(deps(), inst, sources).catch((e: unknown) => e);
      expect(isStorageError(err, 'CONFLICT'), String(err)).to.equal(true);
      expect(s.defined).to.equal(first);
    });
  });
});
