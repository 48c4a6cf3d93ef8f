/**
 * Guest commands while other volumes of the same guest are being snapshotted: a frozen guest's
 * agent refuses guest-exec ("has been disabled"), so a command is retried until the thaw.
 */
import type { TestGuest } from '../../fixtures/guest/index.js';

export async function whileFrozen<T>(call: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      const frozen = /disabled|frozen|not allowed|state change lock/i.test(String((err as Error).message));
      if (!frozen || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

export const guestExec = (g: TestGuest, script: string) => whileFrozen(() => g.exec(script));

/** 64 KiB of `byte` at `offset` (bytes, a multiple of 1 KiB) of the guest's raw disk. */
export const guestWrite = (g: TestGuest, target: string, byte: number, offset: number) =>
  whileFrozen(() => g.writeBlockPattern(target, byte, offset / 1024, 64));
