/**
 * XDR (RFC 4506) as libvirt's remote protocol uses it: big-endian, every item padded to 4 bytes.
 * 64-bit "hyper" values are BigInt end to end so that block-job offsets above 2^53 stay exact.
 */
import { StorageError } from '../core/errors.js';

/** libvirt's VIR_NET_MESSAGE_STRING_MAX: a decoder never allocates more for one string. */
export const XDR_STRING_MAX = 4_194_304;

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;
const UINT32_MAX = 0xffff_ffff;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

function padding(length: number): number {
  return (4 - (length % 4)) % 4;
}

function badValue(what: string, value: unknown): StorageError {
  return new StorageError('INVALID_INPUT', `XDR: ${String(value)} is not a valid ${what}`, { details: { what } });
}

export class XdrWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.alloc(initialSize);
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int(value: number): this {
    if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) throw badValue('int', value);
    this.reserve(4);
    this.pos = this.buf.writeInt32BE(value, this.pos);
    return this;
  }

  uint(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) throw badValue('unsigned int', value);
    this.reserve(4);
    this.pos = this.buf.writeUInt32BE(value, this.pos);
    return this;
  }

  hyper(value: bigint): this {
    if (typeof value !== 'bigint' || value < INT64_MIN || value > INT64_MAX) throw badValue('hyper', value);
    this.reserve(8);
    this.pos = this.buf.writeBigInt64BE(value, this.pos);
    return this;
  }

  uhyper(value: bigint): this {
    if (typeof value !== 'bigint' || value < 0n || value > UINT64_MAX) throw badValue('unsigned hyper', value);
    this.reserve(8);
    this.pos = this.buf.writeBigUInt64BE(value, this.pos);
    return this;
  }

  bool(value: boolean): this {
    return this.int(value ? 1 : 0);
  }

  /** Fixed-length opaque: exactly `length` bytes, no length word. */
  fixedOpaque(data: Uint8Array, length: number): this {
    if (data.length !== length) throw badValue(`opaque[${length}]`, `${data.length} bytes`);
    this.reserve(length + padding(length));
    this.buf.set(data, this.pos);
    this.pos += length;
    this.buf.fill(0, this.pos, this.pos + padding(length));
    this.pos += padding(length);
    return this;
  }

  /** Variable-length opaque: length word, bytes, padding. */
  opaque(data: Uint8Array): this {
    this.uint(data.length);
    return this.fixedOpaque(data, data.length);
  }

  string(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > XDR_STRING_MAX) throw badValue('string (too long)', `${bytes.length} bytes`);
    return this.opaque(bytes);
  }

  /** Optional data (`T *` in the .x files): a boolean discriminant, then the value when present. */
  optional<T>(value: T | null | undefined, write: (w: this, v: T) => void): this {
    if (value === null || value === undefined) return this.bool(false);
    this.bool(true);
    write(this, value);
    return this;
  }

  /** Variable-length array `T<max>`: a count, then each element. */
  array<T>(items: readonly T[], write: (w: this, v: T) => void, max = UINT32_MAX): this {
    if (items.length > max) throw badValue(`array<${max}>`, `${items.length} items`);
    this.uint(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written so far (a view, not a copy). */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class XdrReader {
  private pos: number;

  constructor(private readonly buf: Buffer, offset = 0) {
    this.pos = offset;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw new StorageError('LIBVIRT_PROTOCOL_ERROR', `XDR: ${what} needs ${n} bytes at offset ${this.pos}, ${this.buf.length - this.pos} left`);
    }
  }

  int(): number {
    this.need(4, 'int');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint(): number {
    this.need(4, 'unsigned int');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  hyper(): bigint {
    this.need(8, 'hyper');
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  uhyper(): bigint {
    this.need(8, 'unsigned hyper');
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  bool(): boolean {
    const v = this.int();
    if (v !== 0 && v !== 1) throw new StorageError('LIBVIRT_PROTOCOL_ERROR', `XDR: bool is ${v}`);
    return v === 1;
  }

  fixedOpaque(length: number): Buffer {
    this.need(length + padding(length), `opaque[${length}]`);
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + length));
    this.pos += length + padding(length);
    return v;
  }

  opaque(max = XDR_STRING_MAX): Buffer {
    const length = this.uint();
    if (length > max) throw new StorageError('LIBVIRT_PROTOCOL_ERROR', `XDR: opaque of ${length} bytes exceeds ${max}`);
    return this.fixedOpaque(length);
  }

  string(max = XDR_STRING_MAX): string {
    return this.opaque(max).toString('utf8');
  }

  optional<T>(read: (r: this) => T): T | null {
    return this.bool() ? read(this) : null;
  }

  array<T>(read: (r: this) => T, max = UINT32_MAX): T[] {
    const count = this.uint();
    if (count > max) throw new StorageError('LIBVIRT_PROTOCOL_ERROR', `XDR: array of ${count} exceeds ${max}`);
    // Every element takes at least 4 bytes, so a count larger than that is a lie: refuse before allocating.
    if (count * 4 > this.remaining) throw new StorageError('LIBVIRT_PROTOCOL_ERROR', `XDR: array of ${count} cannot fit in ${this.remaining} bytes`);
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(read(this));
    return out;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Throws when bytes are left over: a struct layout that does not match the server's. */
  end(what: string): void {
    if (this.remaining !== 0) {
      throw new StorageError('LIBVIRT_PROTOCOL_ERROR', `XDR: ${this.remaining} unread bytes after ${what}`);
    }
  }
}
