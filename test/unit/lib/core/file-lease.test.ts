import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileLeaseManager } from '../../../../lib/core/file-lease.js';
import { withLease } from '../../../../lib/core/lease.js';
import { isStorageError } from '../../../../lib/core/errors.js';

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
    expect.fail(`expected ${code}`);
  } catch (err) {
    expect(isStorageError(err) && err.code, String(err)).to.equal(code);
  }
}

describe('file lease manager', () => {
  let dir: string;
  let now: number;
  let leases: FileLeaseManager;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'qcs-lease-'));
    now = 1_000_000;
    leases = new FileLeaseManager(dir, () => now);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('grants one holder at a time and refuses others with LEASE_HELD', async () => {
    const a = await leases.acquire('v1', 'a', 1000);
    await expectCode(leases.acquire('v1', 'b', 1000), 'LEASE_HELD');
    const other = await leases.acquire('v2', 'b', 1000);
    expect(other.token).to.equal(1);
    await leases.release(a);
    const b = await leases.acquire('v1', 'b', 1000);
    expect(b.token).to.be.greaterThan(a.token);
  });

  it('lets an expired lease be taken over, with a larger token, and fences the old holder', async () => {
    const a = await leases.acquire('v1', 'a', 1000);
    now += 1001;
    const b = await leases.acquire('v1', 'b', 1000);
    expect(b.token).to.equal(a.token + 1);
    await expectCode(leases.renew(a, 1000), 'LEASE_LOST');
    await expectCode(leases.checkToken('v1', a.token), 'STALE_FENCING_TOKEN');
    await leases.checkToken('v1', b.token);
    await leases.release(a); // stale release must not free b's grant
    expect((await leases.inspect('v1'))?.holder).to.equal('b');
  });

  it('renews a held lease and keeps its token', async () => {
    const a = await leases.acquire('v1', 'a', 1000);
    now += 900;
    const r = await leases.renew(a, 1000);
    expect(r.token).to.equal(a.token);
    now += 900;
    await expectCode(leases.acquire('v1', 'b', 1000), 'LEASE_HELD');
  });

  it('never reuses a token after release', async () => {
    const tokens: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const l = await leases.acquire('v1', `h${i}`, 1000);
      tokens.push(l.token);
      await leases.release(l);
    }
    expect(tokens).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('rejects resource names that could escape the directory', async () => {
    await expectCode(leases.acquire('../x', 'a', 1000), 'INVALID_INPUT');
  });

  it('withLease renews while work runs and aborts the work when the lease is lost', async () => {
    const real = new FileLeaseManager(dir);
    // Renewed every 100 ms; a TTL of 3 s so that an event loop stalled for a second or two on a
    // loaded machine does not let it lapse between two renewals.
    const result = await withLease(real, 'v3', 'w', { ttlMs: 3000, renewFraction: 30 }, async (lease) => {
      await new Promise((r) => setTimeout(r, 4500));
      await real.checkToken('v3', lease.token); // still ours after more than one TTL
      return 'done';
    });
    expect(result).to.equal('done');
    expect(await real.inspect('v3')).to.equal(null);

    let aborted: unknown;
    await withLease(real, 'v4', 'w', { ttlMs: 1000, renewFraction: 10 }, async (lease, signal) => {
      // Someone else takes over (as after an expiry): the renewal fails and the signal fires.
      await real.release(lease);
      await real.acquire('v4', 'intruder', 60_000);
      // Polled, not a fixed 400 ms: on a loaded machine the next renewal may come late.
      const deadline = Date.now() + 10_000;
      while (!signal.aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      aborted = signal.reason;
    });
    expect(isStorageError(aborted, 'LEASE_LOST')).to.equal(true);
  });
});
