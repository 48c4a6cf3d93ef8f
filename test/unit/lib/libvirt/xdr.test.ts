import { expect } from 'chai';
import { XdrReader, XdrWriter } from '../../../../lib/libvirt/xdr.js';
import { isStorageError } from '../../../../lib/core/errors.js';

function hex(w: XdrWriter): string {
  return w.toBuffer().toString('hex');
}

describe('libvirt XDR', () => {
  it('encodes ints, unsigned ints and bools big-endian in 4 bytes', () => {
    expect(hex(new XdrWriter().int(-2).uint(0xdeadbeef).bool(true))).to.equal('fffffffe' + 'deadbeef' + '00000001');
  });

  it('keeps 64-bit hypers exact beyond 2^53', () => {
    const big = (1n << 63n) + 12345n; // above Number.MAX_SAFE_INTEGER by far
    const w = new XdrWriter().uhyper(big).hyper(-(1n << 62n) - 1n);
    expect(hex(w).slice(0, 16)).to.equal('8000000000003039');
    const r = new XdrReader(w.toBuffer());
    expect(r.uhyper()).to.equal(big);
    expect(r.hyper()).to.equal(-(1n << 62n) - 1n);
  });

  it('pads strings and opaque data to a multiple of 4 with zeros', () => {
    expect(hex(new XdrWriter().string('abcde'))).to.equal('00000005' + '6162636465' + '000000');
    expect(hex(new XdrWriter().string('abcd'))).to.equal('00000004' + '61626364');
    expect(hex(new XdrWriter().fixedOpaque(Buffer.from([1, 2]), 2))).to.equal('01020000');
  });

  it('round-trips UTF-8 strings by byte length', () => {
    const w = new XdrWriter().string('дом');
    expect(w.toBuffer().readUInt32BE(0)).to.equal(6);
    expect(new XdrReader(w.toBuffer()).string()).to.equal('дом');
  });

  it('encodes optional data as a discriminant then the value', () => {
    const w = new XdrWriter().optional<string>(null, (x, v) => x.string(v)).optional('x', (x, v) => x.string(v));
    expect(hex(w)).to.equal('00000000' + '00000001' + '00000001' + '78000000');
    const r = new XdrReader(w.toBuffer());
    expect(r.optional((x) => x.string())).to.equal(null);
    expect(r.optional((x) => x.string())).to.equal('x');
  });

  it('round-trips arrays and enforces their bound', () => {
    const w = new XdrWriter().array(['a', 'bb'], (x, v) => x.string(v));
    expect(new XdrReader(w.toBuffer()).array((x) => x.string())).to.deep.equal(['a', 'bb']);
    expect(() => new XdrWriter().array([1, 2, 3], (x, v) => x.int(v), 2)).to.throw(/array<2>/);
    expect(() => new XdrReader(w.toBuffer()).array((x) => x.string(), 1)).to.throw(/exceeds 1/);
  });

  it('refuses values outside the XDR type', () => {
    for (const bad of [() => new XdrWriter().int(2 ** 31), () => new XdrWriter().uint(-1), () => new XdrWriter().int(1.5),
      () => new XdrWriter().uhyper(-1n), () => new XdrWriter().uhyper(1n << 64n), () => new XdrWriter().hyper(1n << 63n)]) {
      expect(bad).to.throw().that.satisfies((e: unknown) => isStorageError(e, 'INVALID_INPUT'));
    }
  });

  it('reports truncated input as a protocol error instead of reading past the end', () => {
    const r = new XdrReader(Buffer.from('0000000a6162', 'hex'));
    expect(() => r.string()).to.throw().that.satisfies((e: unknown) => isStorageError(e, 'LIBVIRT_PROTOCOL_ERROR'));
  });

  it('refuses an array count that cannot fit in the remaining bytes (no huge allocation)', () => {
    const r = new XdrReader(Buffer.from('7fffffff', 'hex'));
    expect(() => r.array((x) => x.int())).to.throw(/cannot fit/);
  });

  it('rejects a bool that is neither 0 nor 1', () => {
    expect(() => new XdrReader(Buffer.from('00000002', 'hex')).bool()).to.throw(/bool/);
  });

  it('end() catches a struct that did not consume the whole reply', () => {
    const r = new XdrReader(Buffer.from('0000000100000002', 'hex'));
    r.int();
    expect(() => r.end('TEST')).to.throw(/4 unread bytes after TEST/);
  });

  it('grows its buffer for large payloads', () => {
    const w = new XdrWriter(4);
    for (let i = 0; i < 1000; i++) w.uint(i);
    expect(w.length).to.equal(4000);
    expect(w.toBuffer().readUInt32BE(3996)).to.equal(999);
  });
});
