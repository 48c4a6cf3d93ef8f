/** The rule that seals frozen files' identities (drivers/remotefs/identity-seal.ts). */
import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { assertIdentityKey, openIdentity, sealIdentity, type IdentityFacts } from '../../../../drivers/remotefs/identity-seal.js';

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

  it('a key shorter than 32 bytes is refused', () => {
    expect(() => assertIdentityKey(randomBytes(16))).to.throw(TypeError);
    expect(() => assertIdentityKey(randomBytes(32))).to.not.throw();
  });
});
