/**
 * Recognise image formats by their magic, the way QEMU's probes do, so that a file expected to be
 * raw but carrying another format's header is refused. A guest can write such a header into its
 * own raw disk; refusing it is the point (anything that ever probed would read it as that
 * format, backing file included).
 */
export type DetectedFormat =
  | 'qcow2' | 'qcow' | 'qed' | 'vmdk' | 'vhdx' | 'vpc' | 'vdi' | 'luks' | 'parallels' | 'cloop' | 'bochs' | 'raw';

interface Probe {
  format: DetectedFormat;
  offset: number;
  magic: Buffer;
}

const ascii = (s: string) => Buffer.from(s, 'latin1');

const PROBES: Probe[] = [
  { format: 'qed', offset: 0, magic: ascii('QED\0') },
  { format: 'vmdk', offset: 0, magic: ascii('KDMV') }, // sparse extent, little-endian "VMDK"
  { format: 'vmdk', offset: 0, magic: ascii('COWD') }, // ESX sparse
  { format: 'vmdk', offset: 0, magic: ascii('# Disk DescriptorFile') },
  { format: 'vhdx', offset: 0, magic: ascii('vhdxfile') },
  { format: 'vpc', offset: 0, magic: ascii('conectix') },
  { format: 'vdi', offset: 0x40, magic: Buffer.from([0x7f, 0x10, 0xda, 0xbe]) }, // 0xbeda107f LE
  { format: 'luks', offset: 0, magic: Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]) },
  { format: 'parallels', offset: 0, magic: ascii('WithoutFreeSpace') },
  { format: 'parallels', offset: 0, magic: ascii('WithouFreSpacExt') },
  { format: 'cloop', offset: 0, magic: ascii('#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$IMAGE\n') },
  { format: 'bochs', offset: 0, magic: ascii('Bochs Virtual HD Image') },
];

/** Format named by the first bytes of a file; 'raw' when no known magic matches. */
export function detectFormat(head: Buffer): DetectedFormat {
  if (head.length >= 8 && head.readUInt32BE(0) === 0x514649fb) {
    return head.readUInt32BE(4) === 1 ? 'qcow' : 'qcow2';
  }
  for (const p of PROBES) {
    if (head.length >= p.offset + p.magic.length && head.subarray(p.offset, p.offset + p.magic.length).equals(p.magic)) {
      return p.format;
    }
  }
  return 'raw';
}
