/** The rule that seals frozen files' identities (drivers/remotefs/identity-seal.ts). */
import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { identityOf } from '../../../../drivers/remotefs/file-identity.js';
import { assertIdentityKey, openIdentity, openIdentityOfStats, sealIdentity, type IdentityFacts } from '../../../../drivers/remotefs/identity-seal.js';

const key = randomBytes(32);
const vid = randomUUID();
const facts: IdentityFacts = {
  volumeId: vid, file: `volume-${vid}.${randomUUID()}`, stat: 'k3x.1c0.lz4k2a', format: 'qcow2', backing: `volume-${vid}`, backingFormat: 'raw',
};
const VSIZE = 1024 ** 3;

describe('identity seal', () => {
  it('a sealed identity opens with the same key and facts, giving the virtual size it vouches for', () => {
    const id = sealIdentity(key, facts, VSIZE);
    expect(id.startsWith(`${facts.stat}.`)).to.equal(true);
    expect(openIdentity(key, id, facts)).to.equal(VSIZE);
    expect(sealIdentity(key, facts, VSIZE)).to.equal(id);
  });

  it('does not open under another key, for other facts, or when any part is changed', () => {
    const id = sealIdentity(key, facts, VSIZE);
    expect(openIdentity(randomBytes(32), id, facts)).to.equal(undefined);
    const others: Partial<IdentityFacts>[] = [
      { volumeId: randomUUID() }, { file: `volume-${vid}` }, { stat: 'k3x.1c0.lz4k2b' }, { format: 'raw' },
      { backing: null }, { backing: `volume-${vid}.${randomUUID()}` }, { backingFormat: 'qcow2' }, { backingFormat: null },
    ];
    for (const o of others) expect(openIdentity(key, id, { ...facts, ...o }), JSON.stringify(o)).to.equal(undefined);
    // A larger virtual size spliced in, the MAC kept.
    const parts = id.split('.');
    parts[3] = (VSIZE * 1024).toString(36);
    expect(openIdentity(key, parts.join('.'), facts)).to.equal(undefined);
    // One bit of the MAC flipped.
    const mac = Buffer.from(parts[4]!, 'base64url');
    mac[0]! ^= 1;
    expect(openIdentity(key, [...id.split('.').slice(0, 4), mac.toString('base64url')].join('.'), facts)).to.equal(undefined);
  });

  it('a seal this process remembers as verified opens again only for exactly its facts and key', () => {
    const id = sealIdentity(key, facts, VSIZE);
    expect(openIdentity(key, id, facts)).to.equal(VSIZE);
    expect(openIdentity(key, id, { ...facts })).to.equal(VSIZE); // equal facts, another object
    for (const field of Object.keys(facts) as (keyof IdentityFacts)[]) {
      const other = { ...facts, [field]: field === 'backing' || field === 'backingFormat' ? null : `${facts[field]}x` };
      expect(openIdentity(key, id, other), field).to.equal(undefined);
    }
    expect(openIdentity(randomBytes(32), id, facts)).to.equal(undefined);
    expect(openIdentity(key, id, facts)).to.equal(VSIZE);
  });

  it('a forged identity: fresh lstat fields spliced into a recorded one do not open', () => {
    const recorded = sealIdentity(key, facts, VSIZE);
    const hostile = { ...facts, stat: 'k3x.2g0.lz4zzz' };
    const forged = [hostile.stat, ...recorded.split('.').slice(3)].join('.');
    expect(openIdentity(key, forged, hostile)).to.equal(undefined);
  });

  it('none, an unsealed identity (older info files) and malformed text do not open', () => {
    for (const r of [undefined, '', facts.stat, `${facts.stat}.x`, `${facts.stat}.${VSIZE.toString(36)}.short`, `${sealIdentity(key, facts, VSIZE)}.x`]) {
      expect(openIdentity(key, r, facts), String(r)).to.equal(undefined);
    }
  });

  it('by lstat fields: the same answer as by identity text, from the first check (HMAC) and from the remembered one (numbers)', () => {
    // What identityOf reads of an lstat; a 2^60 inode (GlusterFS) as well as a small one.
    const stats = (ino: number, size: number, ctimeMs: number) => ({ ino, size, ctimeMs }) as Stats;
    const { stat: _, ...header } = facts;
    for (const st of [stats(0x3c1f, 196_608, 1_765_000_000_123.456), stats(2 ** 60 + 2 ** 9, 2 ** 40, 1_765_000_000_000.25)]) {
      const k = randomBytes(32);
      const id = sealIdentity(k, { ...header, stat: identityOf(st) }, VSIZE);
      // Twice: the first verifies the MAC, the second compares the remembered numbers.
      for (let i = 0; i < 2; i++) expect(openIdentityOfStats(k, id, header, st), `check ${i}`).to.equal(VSIZE);
      // Any lstat field changed (a replaced or rewritten file), to any amount the identity can tell: refused, as by text.
      for (const other of [stats(st.ino + 2 ** 11, st.size, st.ctimeMs), stats(st.ino, st.size + 1, st.ctimeMs), stats(st.ino, st.size, st.ctimeMs + 0.001)]) {
        expect(openIdentity(k, id, { ...header, stat: identityOf(other) })).to.equal(undefined);
        expect(openIdentityOfStats(k, id, header, other)).to.equal(undefined);
      }
      // Other header facts, another key: refused, remembered or not.
      expect(openIdentityOfStats(k, id, { ...header, backing: null }, st)).to.equal(undefined);
      expect(openIdentityOfStats(k, id, { ...header, format: 'raw' }, st)).to.equal(undefined);
      expect(openIdentityOfStats(randomBytes(32), id, header, st)).to.equal(undefined);
      expect(openIdentityOfStats(k, undefined, header, st)).to.equal(undefined);
      expect(openIdentityOfStats(k, id, header, st)).to.equal(VSIZE);
    }
  });

  it('a seal made with the stats it was made from is remembered as verified: a forged MAC spliced in still does not open', () => {
    const st = { ino: 77, size: 4096, ctimeMs: 1_765_000_000_001 } as Stats;
    const { stat: _, ...header } = facts;
    const k = randomBytes(32);
    const id = sealIdentity(k, { ...header, stat: identityOf(st) }, VSIZE, st);
    expect(openIdentityOfStats(k, id, header, st)).to.equal(VSIZE);
    const parts = id.split('.');
    const mac = Buffer.from(parts[4]!, 'base64url');
    mac[0]! ^= 1;
    expect(openIdentityOfStats(k, [...parts.slice(0, 4), mac.toString('base64url')].join('.'), header, st)).to.equal(undefined);
  });

  it('a key shorter than 32 bytes is refused', () => {
    expect(() => assertIdentityKey(randomBytes(16))).to.throw(TypeError);
    expect(() => assertIdentityKey(randomBytes(32))).to.not.throw();
  });
});
