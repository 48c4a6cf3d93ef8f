/**
 * Embedded lease manager: one JSON file per resource in a directory, safe across processes on
 * one host. The read-modify-write of a lease file is guarded by an atomic mkdir lock; a lock
 * directory older than STALE_LOCK_MS belongs to a process that died inside the few-millisecond
 * critical section and is broken. The fencing counter survives releases (the file keeps the
 * last token), so tokens only grow.
 */
import { mkdir, readFile, rename, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { StorageError } from './errors.js';
import type { Lease, LeaseManager } from './lease.js';

const STALE_LOCK_MS = 10_000;
const LOCK_WAIT_MS = 15_000;

interface LeaseRecord {
  holder: string | null;
  token: number;
  expiresAt: number;
}

function fileName(resource: string): string {
  if (!/^[A-Za-z0-9._:-]{1,200}$/.test(resource) || resource.startsWith('.')) {
    throw new StorageError('INVALID_INPUT', `invalid lease resource name: ${JSON.stringify(resource)}`);
  }
  return resource;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FileLeaseManager implements LeaseManager {
  constructor(private readonly dir: string, private readonly now: () => number = Date.now) {}

  private async locked<T>(resource: string, fn: (rec: LeaseRecord) => Promise<[LeaseRecord | null, T]>): Promise<T> {
    const name = fileName(resource);
    await mkdir(this.dir, { recursive: true });
    const lockDir = path.join(this.dir, `${name}.lock`);
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        await mkdir(lockDir);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const st = await stat(lockDir).catch(() => null);
        if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) await rmdir(lockDir).catch(() => undefined);
        if (Date.now() > deadline) throw new StorageError('LEASE_HELD', `lease file of ${resource} stays locked`);
        await sleep(2 + Math.random() * 5);
      }
    }
    try {
      const file = path.join(this.dir, `${name}.json`);
      const rec = await readFile(file, 'utf8').then((s) => JSON.parse(s) as LeaseRecord, () => ({ holder: null, token: 0, expiresAt: 0 }));
      const [next, result] = await fn(rec);
      if (next) {
        const tmp = `${file}.${randomUUID()}.tmp`;
        await writeFile(tmp, JSON.stringify(next));
        await rename(tmp, file);
      }
      return result;
    } finally {
      await rmdir(lockDir).catch(() => undefined);
    }
  }

  acquire(resource: string, holder: string, ttlMs: number): Promise<Lease> {
    return this.locked(resource, async (rec) => {
      const now = this.now();
      if (rec.holder !== null && rec.expiresAt > now) {
        throw new StorageError('LEASE_HELD', `volume ${resource} is busy (lease held by ${rec.holder})`, {
          details: { resource, holder: rec.holder, expiresAt: new Date(rec.expiresAt).toISOString() },
        });
      }
      const next = { holder, token: rec.token + 1, expiresAt: now + ttlMs };
      return [next, { resource, ...next }];
    });
  }

  renew(lease: Lease, ttlMs: number): Promise<Lease> {
    return this.locked(lease.resource, async (rec) => {
      const now = this.now();
      if (rec.token !== lease.token || rec.holder !== lease.holder || rec.expiresAt <= now) {
        throw new StorageError('LEASE_LOST', `lease on ${lease.resource} (token ${lease.token}) was lost`, {
          details: { resource: lease.resource, token: lease.token, currentToken: rec.token },
        });
      }
      const next = { ...rec, expiresAt: now + ttlMs };
      return [next, { resource: lease.resource, holder: lease.holder, token: rec.token, expiresAt: next.expiresAt }];
    });
  }

  release(lease: Lease): Promise<void> {
    return this.locked(lease.resource, async (rec) => {
      if (rec.token !== lease.token || rec.holder !== lease.holder) return [null, undefined];
      return [{ holder: null, token: rec.token, expiresAt: 0 }, undefined];
    });
  }

  checkToken(resource: string, token: number): Promise<void> {
    return this.locked(resource, async (rec) => {
      if (rec.token !== token || rec.holder === null || rec.expiresAt <= this.now()) {
        throw new StorageError('STALE_FENCING_TOKEN', `fencing token ${token} for ${resource} is not current (current ${rec.token})`, {
          details: { resource, token, currentToken: rec.token },
        });
      }
      return [null, undefined];
    });
  }

  inspect(resource: string): Promise<Lease | null> {
    return this.locked(resource, async (rec) => [null, rec.holder === null ? null : { resource, holder: rec.holder, token: rec.token, expiresAt: rec.expiresAt }]);
  }
}
