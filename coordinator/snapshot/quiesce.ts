/**
 * Quiesce by hand (FSFreeze / FSThaw), not libvirt's QUIESCE flag: libvirt's docs recommend it
 * for error recovery, and only this way can the freeze be bounded and the thaw guaranteed.
 *
 * - "frozen" is persisted BEFORE the freeze (qemu-ga never thaws by itself, so a crash while
 *   frozen must be found by reconcile);
 * - the freeze is bounded: a watchdog thaws when freezeTimeoutMs has passed, even while the
 *   snapshot call is still in flight (the snapshot is then recorded as not quiesced);
 * - thaw runs in `finally`, on the port's own thaw connection, and is retried;
 * - a freeze call that answers after we gave up on it is thawed again.
 */
import { StorageError } from '../../lib/core/errors.js';
import type { Logger } from '../../lib/core/logger.js';
import type { Clock } from '../clock.js';
import type { QuiescePolicy } from '../jobs/job.js';
import type { LibvirtPort } from '../libvirt/port.js';

export interface QuiesceContext {
  port: LibvirtPort;
  clock: Clock;
  log: Logger;
  domainUuid: string;
  policy: QuiescePolicy;
  freezeTimeoutMs: number;
  /** Persist the frozen flag (called with true before the freeze, false after the thaw). */
  markFrozen(frozen: boolean): Promise<void>;
}

export interface QuiesceOutcome<T> {
  result: T;
  quiesced: boolean;
  note?: string;
  freezeMs?: number;
}

const THAW_ATTEMPTS = 5;

/** Thaw, retried; true when a thaw call succeeded. Never throws. */
export async function thawGuest(port: LibvirtPort, clock: Clock, log: Logger, uuid: string): Promise<boolean> {
  for (let i = 1; i <= THAW_ATTEMPTS; i += 1) {
    try {
      await port.fsThaw(uuid);
      return true;
    } catch (err) {
      log.warn({ err, domain: uuid, attempt: i }, 'thaw failed');
      if (i < THAW_ATTEMPTS) await clock.sleep(200 * i);
    }
  }
  return false;
}

/** `p`, or 'timeout' when it has not settled within `ms` of clock time. */
async function timeout<T>(clock: Clock, p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  const ac = new AbortController();
  // Once `p` settled the sleep is aborted; it must then never win the race.
  const timer = clock.sleep(ms, ac.signal).then(() => (ac.signal.aborted ? new Promise<never>(() => undefined) : ('timeout' as const)));
  try {
    return await Promise.race([p, timer]);
  } finally {
    ac.abort();
  }
}

async function freeze(ctx: QuiesceContext): Promise<string | null> {
  const call = ctx.port.fsFreeze(ctx.domainUuid);
  try {
    const r = await timeout(ctx.clock, call, ctx.freezeTimeoutMs);
    if (r !== 'timeout') return null;
    // It may still freeze later: thaw once more when it answers.
    call.then(() => thawGuest(ctx.port, ctx.clock, ctx.log, ctx.domainUuid), () => undefined);
    return `fsfreeze did not answer within ${ctx.freezeTimeoutMs} ms`;
  } catch (err) {
    return `fsfreeze failed: ${(err as Error).message}`;
  }
}

async function thawAndUnmark(ctx: QuiesceContext): Promise<void> {
  if (await thawGuest(ctx.port, ctx.clock, ctx.log, ctx.domainUuid)) await ctx.markFrozen(false);
  else ctx.log.error({ domain: ctx.domainUuid }, 'guest left frozen: thaw failed; recorded, reconcile thaws it');
}

/** Run `work` inside a bounded freeze (or unquiesced, as the policy allows). */
export async function withQuiesce<T>(ctx: QuiesceContext, work: () => Promise<T>): Promise<QuiesceOutcome<T>> {
  if (ctx.policy === 'off') return { result: await work(), quiesced: false, note: 'quiesce off' };
  await ctx.markFrozen(true);
  const started = ctx.clock.now();
  const failure = await freeze(ctx);
  if (failure !== null) {
    await thawAndUnmark(ctx);
    if (ctx.policy === 'require') throw new StorageError('QUIESCE_FAILED', failure, { details: { domain: ctx.domainUuid } });
    ctx.log.warn({ domain: ctx.domainUuid, failure }, 'quiesce failed; snapshot taken unquiesced (policy prefer)');
    return { result: await work(), quiesced: false, note: failure };
  }
  let thawedEarly = false;
  const watchdogStop = new AbortController();
  const watchdog = ctx.clock.sleep(ctx.freezeTimeoutMs, watchdogStop.signal).then(async () => {
    if (watchdogStop.signal.aborted) return;
    thawedEarly = true;
    ctx.log.warn({ domain: ctx.domainUuid }, 'freeze bound reached: thawing while the snapshot runs');
    await thawGuest(ctx.port, ctx.clock, ctx.log, ctx.domainUuid);
  });
  let result: T;
  try {
    result = await work();
  } finally {
    watchdogStop.abort();
    await watchdog;
    await thawAndUnmark(ctx);
  }
  const note = thawedEarly ? `thawed after ${ctx.freezeTimeoutMs} ms, before the snapshot ended` : undefined;
  return { result, quiesced: !thawedEarly, note, freezeMs: ctx.clock.now() - started };
}
