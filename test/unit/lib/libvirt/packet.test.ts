import { expect } from 'chai';
import { FrameReader, decodePacket, encodePacket, MAX_PACKET_BYTES } from '../../../../lib/libvirt/packet.js';
import { MessageStatus, MessageType, Program, RemoteProc } from '../../../../lib/libvirt/protocol.js';

const header = { program: Program.REMOTE, version: 1, procedure: RemoteProc.CONNECT_OPEN, type: MessageType.CALL, serial: 7, status: MessageStatus.OK };

describe('libvirt packet framing', () => {
  it('writes the length (including itself) and the 24-byte header', () => {
    const p = encodePacket(header, Buffer.from('00000000', 'hex'));
    expect(p.length).to.equal(32);
    expect(p.toString('hex')).to.equal('00000020' + '20008086' + '00000001' + '00000001' + '00000000' + '00000007' + '00000000' + '00000000');
  });

  it('decodes what it encodes', () => {
    const frame = encodePacket({ ...header, serial: 0xffffffff, type: MessageType.REPLY, status: MessageStatus.ERROR }, Buffer.from('abcd', 'hex'));
    const { header: h, body } = decodePacket(frame.subarray(4));
    expect(h).to.deep.equal({ ...header, serial: 0xffffffff, type: MessageType.REPLY, status: MessageStatus.ERROR });
    expect(body.toString('hex')).to.equal('abcd');
  });

  it('splits a byte stream into frames whatever the chunking', () => {
    const a = encodePacket({ ...header, serial: 1 }, Buffer.alloc(8, 1));
    const b = encodePacket({ ...header, serial: 2 });
    const c = encodePacket({ ...header, serial: 3 }, Buffer.alloc(100_000, 3));
    const stream = Buffer.concat([a, b, c]);
    for (const size of [1, 3, 7, 64, stream.length]) {
      const reader = new FrameReader();
      const serials: number[] = [];
      for (let i = 0; i < stream.length; i += size) {
        for (const f of reader.push(stream.subarray(i, i + size))) serials.push(decodePacket(f).header.serial);
      }
      expect(serials, `chunk size ${size}`).to.deep.equal([1, 2, 3]);
      expect(reader.pendingBytes).to.equal(0);
    }
  });

  it('refuses a length shorter than a header or above the protocol maximum', () => {
    expect(() => new FrameReader().push(Buffer.from('00000010', 'hex'))).to.throw(/out of range/);
    const tooBig = Buffer.alloc(4);
    tooBig.writeUInt32BE(MAX_PACKET_BYTES + 1);
    expect(() => new FrameReader().push(tooBig)).to.throw(/out of range/);
  });
});
