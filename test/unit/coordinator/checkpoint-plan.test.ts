/** Pure checkpoint planning: disk selection, the snapshot document, save-image and definition checks. */
import { expect } from 'chai';
import { isStorageError } from '../../../lib/core/errors.js';
import { SnapshotCreateFlags as S } from '../../../lib/libvirt/constants.js';
import { parseDomainXml } from '../../../coordinator/domain/disks.js';
import {
  SAVE_HEADER_BYTES, SAVE_MAGIC, SAVE_PARTIAL_MAGIC, checkSaveHeader, checkpointFlags, checkpointPaths, checkpointXml,
  rewriteDefinition, selectDisks,
} from '../../../coordinator/checkpoint/plan.js';

const V1 = '11111111-1111-4111-8111-111111111111';
const V2 = '22222222-2222-4222-8222-222222222222';
const INST = '33333333-3333-4333-8333-333333333333';
const CP = '44444444-4444-4444-8444-444444444444';

function disk(target: string, serial: string | null, file: string, extra = ''): string {
  return `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${file}'/>${extra}` +
    `<target dev='${target}' bus='virtio'/>${serial ? `<serial>${serial}</serial>` : ''}</disk>`;
}
const domain = (...disks: string[]) => `<domain><name>i</name><uuid>${INST}</uuid><cpu mode='custom'><model>qemu64</model></cpu><devices>${disks.join('')}</devices></domain>`;

function errCode(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return isStorageError(e) ? e.code : `not a StorageError: ${String(e)}`; }
  return undefined;
}

function header(magic: string, dataLen: number, opts: { version?: number; compressed?: number } = {}): Buffer {
  const b = Buffer.alloc(SAVE_HEADER_BYTES);
  b.write(magic, 0, 'latin1');
  b.writeUInt32LE(opts.version ?? 2, 16);
  b.writeUInt32LE(dataLen, 20);
  b.writeUInt32LE(1, 24);
  b.writeUInt32LE(opts.compressed ?? 0, 28);
  return b;
}

describe('checkpoint plan', () => {
  it('puts a checkpoint\'s files under checkpoints/<instance>/<id> and refuses ids that are not UUIDs', () => {
    expect(checkpointPaths('/mnt/s', INST, CP)).to.deep.equal({
      dir: `/mnt/s/checkpoints/${INST}/${CP}`, memory: `/mnt/s/checkpoints/${INST}/${CP}/memory.save`, definition: `/mnt/s/checkpoints/${INST}/${CP}/domain.xml`,
      memoryDefinition: `/mnt/s/checkpoints/${INST}/${CP}/memory.domain.xml`,
    });
    expect(errCode(() => checkpointPaths('/mnt/s', INST, '../../etc'))).to.equal('INVALID_ID');
    expect(errCode(() => checkpointPaths('/mnt/s', 'x/..', CP))).to.equal('INVALID_ID');
  });

  it('selects every product-managed disk and refuses an unmanaged one unless it is excluded', () => {
    const dom = parseDomainXml(domain(disk('vda', V1, `/mnt/a/volume-${V1}`), disk('vdb', null, '/var/lib/images/scratch.qcow2')));
    expect(errCode(() => selectDisks(dom))).to.equal('CHECKPOINT_UNMANAGED_DISK');
    try { selectDisks(dom); } catch (e) { expect((e as { details: { refused: unknown } }).details.refused).to.deep.equal([{ target: 'vdb', reason: 'its serial is not a volume id of this product' }]); }
    const sel = selectDisks(dom, ['vdb']);
    expect(sel.managed.map((d) => d.target)).to.deep.equal(['vda']);
    expect(sel.excluded).to.deep.equal(['vdb']);
    expect(errCode(() => selectDisks(dom, ['vdz']))).to.equal('INVALID_INPUT');
    // A volume's disk whose file is not one of its own files is not managed either.
    const foreign = parseDomainXml(domain(disk('vda', V1, `/mnt/a/volume-${V2}`)));
    expect(errCode(() => selectDisks(foreign))).to.equal('CHECKPOINT_UNMANAGED_DISK');
  });

  it('takes memory and disks in one atomic call; LIVE only in live mode, never DISK_ONLY', () => {
    expect(checkpointFlags('consistent')).to.equal(S.REUSE_EXT | S.NO_METADATA | S.ATOMIC);
    expect(checkpointFlags('live')).to.equal(S.REUSE_EXT | S.NO_METADATA | S.ATOMIC | S.LIVE);
    const xml = checkpointXml(CP, `/mnt/s/checkpoints/${INST}/${CP}/memory.save`,
      [{ volumeId: V1, target: 'vda', snapshotPoint: `/mnt/a/volume-${V1}`, overlayPath: `/mnt/a/volume-${V1}.${CP}` }], ['vda', 'vdb']);
    expect(xml).to.include(`<memory snapshot='external' file='/mnt/s/checkpoints/${INST}/${CP}/memory.save'/>`);
    expect(xml).to.include(`<disk name='vda' snapshot='external' type='file'><source file='/mnt/a/volume-${V1}.${CP}'/>`);
    expect(xml).to.include(`<disk name='vdb' snapshot='no'/>`);
    expect(() => checkpointXml(CP, '/m', [{ volumeId: V1, target: 'vdq', snapshotPoint: 'a', overlayPath: 'b' }], ['vda'])).to.throw(/not in the domain/);
  });

  it('accepts a complete save image of the recorded size and refuses partial, foreign, compressed or resized ones', () => {
    const size = SAVE_HEADER_BYTES + 100 + 4096;
    expect(checkSaveHeader(header(SAVE_MAGIC, 100), size, size)).to.deep.equal({ version: 2, dataLen: 100, wasRunning: true, compressed: 0 });
    const refused = (h: Buffer, actual = size, recorded = size) => errCode(() => checkSaveHeader(h, actual, recorded));
    expect(refused(header(SAVE_PARTIAL_MAGIC, 100))).to.equal('CHECKPOINT_MEMORY_UNSAFE');
    expect(refused(header('QFI\xfbxxxxxxxxxxxx', 100))).to.equal('CHECKPOINT_MEMORY_UNSAFE');
    expect(refused(header(SAVE_MAGIC, 100, { compressed: 1 }))).to.equal('CHECKPOINT_MEMORY_UNSAFE');
    expect(refused(header(SAVE_MAGIC, 100, { version: 9 }))).to.equal('CHECKPOINT_MEMORY_UNSAFE');
    expect(refused(header(SAVE_MAGIC, 100), size - 1, size)).to.equal('CHECKPOINT_MEMORY_UNSAFE');
    expect(refused(header(SAVE_MAGIC, size), size, size)).to.equal('CHECKPOINT_MEMORY_UNSAFE');
    expect(refused(header(SAVE_MAGIC, 100).subarray(0, 20))).to.equal('CHECKPOINT_MEMORY_UNSAFE');
  });

  describe('rewriting the saved definition to the revert\'s overlays', () => {
    const point = `/mnt/a/volume-${V1}.aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa`;
    const overlay = `/mnt/a/volume-${V1}.bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb`;
    const plan = new Map([['vda', { snapshotPoint: point, overlayPath: overlay }]]);

    it('points each disk at its new overlay, drops <backingStore>, keeps everything else (CPU model)', () => {
      const saved = domain(disk('vda', V1, point, `<backingStore type='file'><format type='qcow2'/><source file='/mnt/a/volume-${V1}'/><backingStore/></backingStore>`));
      const out = rewriteDefinition(saved, plan);
      expect(out).to.include(`<source file='${overlay}'/>`);
      expect(out).to.not.include('backingStore');
      expect(out).to.not.include(point);
      expect(out).to.include(`<cpu mode='custom'><model>qemu64</model></cpu>`);
    });

    it('refuses a definition naming another file, an unknown disk, or lacking a disk', () => {
      expect(errCode(() => rewriteDefinition(domain(disk('vda', V1, '/etc/shadow')), plan))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
      expect(errCode(() => rewriteDefinition(domain(disk('vda', V1, point), disk('vdb', V2, `/mnt/a/volume-${V2}`)), plan))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
      expect(errCode(() => rewriteDefinition(domain(), plan))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
    });

    it('accepts another own file of the volume in a persistent definition, never a foreign one', () => {
      const later = `/mnt/a/volume-${V1}.cccccccc-cccc-4ccc-8ccc-cccccccccccc`;
      const opts = { anyFileOfVolume: new Map([['vda', V1]]) };
      expect(rewriteDefinition(domain(disk('vda', V1, later)), plan, opts)).to.include(`<source file='${overlay}'/>`);
      expect(errCode(() => rewriteDefinition(domain(disk('vda', V1, later)), plan))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
      for (const f of [`/mnt/a/volume-${V2}`, `/mnt/b/volume-${V1}`, `/mnt/a/../a/volume-${V1}`, `/mnt/a/volume-${V1}.x`]) {
        expect(errCode(() => rewriteDefinition(domain(disk('vda', V1, f)), plan, opts)), f).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
      }
    });

    it('keeps an excluded disk as it is, and an empty CD-ROM', () => {
      const cd = `<disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>`;
      const out = rewriteDefinition(domain(disk('vda', V1, point), disk('vdb', null, '/srv/scratch.qcow2'), cd), plan, { keep: new Set(['vdb']) });
      expect(out).to.include(`<source file='/srv/scratch.qcow2'/>`).and.to.include(cd);
    });
  });
});
