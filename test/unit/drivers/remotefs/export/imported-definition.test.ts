/**
 * The disks of an imported instance's definition as the storage side reads them for os-define
 * (drivers/remotefs/export/imported-definition.ts): each file-backed disk by target and volume
 * serial, a source-less disk (an empty CD-ROM) skipped, another instance's definition or a disk
 * without a volume serial refused.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { disksOfImported } from '../../../../../drivers/remotefs/export/imported-definition.js';
import { isStorageError } from '../../../../../lib/core/errors.js';

const inst = randomUUID();
const v1 = randomUUID();
const disk = (target: string, serial: string) => `<disk type='file' device='disk'><source file='/s/volume-${v1}'/><target dev='${target}'/>${serial ? `<serial>${serial}</serial>` : ''}</disk>`;
const domain = (uuid: string, disks: string) => `<domain><uuid>${uuid}</uuid><devices>${disks}<disk type='file' device='cdrom'><target dev='sda'/></disk></devices></domain>`;

describe('imported definition disks', () => {
  it('answers each file-backed disk by target and serial', () => {
    expect(disksOfImported(domain(inst, disk('vdb', v1.toUpperCase())), inst)).to.deep.equal([{ target: 'vdb', volumeId: v1 }]);
  });
  it('refuses another instance\'s definition and a disk without a volume serial', () => {
    for (const xml of [domain(randomUUID(), disk('vdb', v1)), domain(inst, disk('vdb', '')), domain(inst, disk('vdb', 'not-a-uuid'))]) {
      let err: unknown = null;
      try { disksOfImported(xml, inst); } catch (e) { err = e; }
      expect(isStorageError(err, 'CHECKPOINT_DEFINITION_UNSAFE'), String(err)).to.equal(true);
    }
  });
});
