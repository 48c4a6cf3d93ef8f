import { expect } from 'chai';
import { TokenCache } from '../../../../../src/api/keystone/token-cache.js';

describe('Keystone token cache (bounded in size and time)', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const c = new TokenCache<string>({ maxEntries: 2, ttlMs: 60_000, now: clock });
    c.set('a', 'A', now + 3_600_000);
    c.set('b', 'B', now + 3_600_000);
    expect(c.get('a')).to.equal('A'); // a is now the most recently used
    c.set('c', 'C', now + 3_600_000);
    expect(c.size).to.equal(2);
    expect(c.get('b')).to.equal(undefined);
    expect(c.get('a')).to.equal('A');
    expect(c.get('c')).to.equal('C');
  });

  it('trusts an entry until the earlier of the token expiry and the TTL', () => {
    const c = new TokenCache<string>({ maxEntries: 10, ttlMs: 60_000, now: clock });
    c.set('short', 'S', now + 5_000); // the token expires before the TTL
    c.set('long', 'L', now + 3_600_000); // the TTL ends first
    now += 4_999;
    expect(c.get('short')).to.equal('S');
    now += 1;
    expect(c.get('short')).to.equal(undefined);
    now += 55_000; // 60 s after the set
    expect(c.get('long')).to.equal(undefined);
    expect(c.size).to.equal(0);
  });

  it('does not keep a token that has already expired, nor anything with a TTL of 0', () => {
    const c = new TokenCache<string>({ maxEntries: 10, ttlMs: 60_000, now: clock });
    c.set('old', 'O', now - 1);
    expect(c.size).to.equal(0);
    const none = new TokenCache<string>({ maxEntries: 10, ttlMs: 0, now: clock });
    none.set('t', 'T', now + 3_600_000);
    expect(none.get('t')).to.equal(undefined);
  });
});
