/**
 * Framing of libvirt RPC messages: a 4-byte length (counting itself), a 24-byte header, a payload.
 */
import { StorageError } from '../core/errors.js';
import { XdrReader, XdrWriter } from './xdr.js';

export interface PacketHeader {
  program: number;
  version: number;
  procedure: number;
  type: number;
  serial: number;
  status: number;
}

export interface Packet {
  header: PacketHeader;
  /** The XDR payload after the header. */
  body: Buffer;
}

export const LENGTH_BYTES = 4;
export const HEADER_BYTES = 24;
/** VIR_NET_MESSAGE_MAX plus the length word, as libvirt's own reader allows. */
export const MAX_PACKET_BYTES = 16_777_216 + LENGTH_BYTES;

export function encodePacket(header: PacketHeader, body: Uint8Array = Buffer.alloc(0)): Buffer {
  const total = LENGTH_BYTES + HEADER_BYTES + body.length;
  if (total > MAX_PACKET_BYTES) {
    throw new StorageError('INVALID_INPUT', `libvirt message of ${total} bytes exceeds the protocol limit ${MAX_PACKET_BYTES}`);
  }
  const w = new XdrWriter(LENGTH_BYTES + HEADER_BYTES);
  w.uint(total).uint(header.program).uint(header.version).int(header.procedure);
  w.int(header.type).uint(header.serial).int(header.status);
  // The body is already XDR (a multiple of 4 bytes); it goes out as is, never re-padded.
  return Buffer.concat([w.toBuffer(), body], total);
}

/** Decode one frame without its length word. */
export function decodePacket(frame: Buffer): Packet {
  if (frame.length < HEADER_BYTES) {
    throw new StorageError('LIBVIRT_PROTOCOL_ERROR', `libvirt message of ${frame.length} bytes is shorter than its header`);
  }
  const r = new XdrReader(frame);
  const header: PacketHeader = {
    program: r.uint(),
    version: r.uint(),
    procedure: r.int(),
    type: r.int(),
    serial: r.uint(),
    status: r.int(),
  };
  return { header, body: frame.subarray(HEADER_BYTES) };
}

/**
 * Cuts a byte stream into frames. A stream socket delivers arbitrary chunks: one chunk may hold
 * several messages or a fraction of one.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expected: number | undefined;

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      const frame = this.next();
      if (!frame) return frames;
      frames.push(frame);
    }
  }

  private next(): Buffer | undefined {
    if (this.buffered < LENGTH_BYTES) return undefined;
    // Remember the announced length so that a large message arriving in many chunks is joined
    // once, not on every chunk.
    this.expected ??= this.readLength();
    if (this.buffered < this.expected) return undefined;
    const all = this.coalesce();
    const frame = all.subarray(LENGTH_BYTES, this.expected);
    const rest = all.subarray(this.expected);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    this.expected = undefined;
    return frame;
  }

  private readLength(): number {
    const first = this.chunks[0] as Buffer;
    const total = (first.length >= LENGTH_BYTES ? first : this.coalesce()).readUInt32BE(0);
    if (total < LENGTH_BYTES + HEADER_BYTES || total > MAX_PACKET_BYTES) {
      throw new StorageError('LIBVIRT_PROTOCOL_ERROR', `libvirt message length ${total} is out of range`);
    }
    return total;
  }

  private coalesce(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] as Buffer;
  }

  get pendingBytes(): number {
    return this.buffered;
  }
}
