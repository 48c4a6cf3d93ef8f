/**
 * Waiting for a block job. Polling is the authority; a BLOCK_JOB_2 event only wakes the poll early
 * (events are lost across a libvirtd restart, and a vanished job says nothing about success: Nova
 * took one for success, bug 1627134). Ready for pivot only when cur == end AND the live XML shows
 * <mirror ready='yes'> (cur == end alone lied: bz1442266). Past the time limit the job is reported
 * overdue and still awaited: a timeout never turns a running job into "failed".
 */
import { isStorageError } from '../../lib/core/errors.js';
import type { Logger } from '../../lib/core/logger.js';
import type { Clock } from '../clock.js';
import { StoppedError } from '../jobs/context.js';
import { parseDomainXml } from '../domain/disks.js';
import type { BlockJobProgress, LibvirtPort } from '../libvirt/port.js';

export interface WaitContext {
  port: LibvirtPort;
  clock: Clock;
  log: Logger;
  domainUuid: string;
  target: string;
  /** Active commit: wait for ready; otherwise wait until the job is gone. */
  untilReady: boolean;
  pollMs: number;
  /** Deadline (clock time) after which onOverdue is called once. */
  overdueAt: number;
  /** Aborted when the daemon stops: the wait ends with StoppedError, the job stays persisted. */
  stopping: AbortSignal;
  onProgress(percent: number): Promise<void>;
  onOverdue(): Promise<void>;
}

export type WaitResult = 'ready' | 'gone';

/** Errors worth another poll: libvirtd restarting, or the domain briefly not found while it does. */
const MAX_NOT_FOUND = 5;

export function percentOf(info: BlockJobProgress): number {
  if (info.end <= 0n) return 0;
  return Number((info.cur * 10_000n) / info.end) / 100;
}

async function mirrorReady(ctx: WaitContext): Promise<boolean> {
  const dom = parseDomainXml(await ctx.port.domainXml(ctx.domainUuid));
  return dom.disks.find((d) => d.target === ctx.target)?.mirror?.ready === 'yes';
}

/** A wake-up signal that fires on the next block-job event for this disk. */
function hintSource(ctx: WaitContext): { next(): AbortSignal; stop(): void } {
  let ac = new AbortController();
  const stop = ctx.port.onBlockJob((h) => {
    if (h.domainUuid === ctx.domainUuid && h.target === ctx.target) ac.abort();
  });
  return {
    next: () => { if (ac.signal.aborted) ac = new AbortController(); return ac.signal; },
    stop,
  };
}

export async function waitBlockJob(ctx: WaitContext): Promise<WaitResult> {
  const hints = hintSource(ctx);
  let lastPercent = -1;
  let notFound = 0;
  let overdue = false;
  try {
    for (;;) {
      if (ctx.stopping.aborted) throw new StoppedError();
      const signal = AbortSignal.any([hints.next(), ctx.stopping]);
      try {
        const info = await ctx.port.blockJobInfo(ctx.domainUuid, ctx.target);
        notFound = 0;
        if (!info) return 'gone';
        const percent = percentOf(info);
        if (percent !== lastPercent) { lastPercent = percent; await ctx.onProgress(percent); }
        if (ctx.untilReady && info.end > 0n && info.cur === info.end && (await mirrorReady(ctx))) return 'ready';
      } catch (err) {
        if (isStorageError(err, 'NOT_FOUND') && ++notFound <= MAX_NOT_FOUND) ctx.log.warn({ err }, 'domain not found while polling; retrying');
        else if (!isStorageError(err, 'LIBVIRT_DISCONNECTED')) throw err;
        else ctx.log.warn({ err: (err as Error).message }, 'libvirtd unreachable while polling a block job; retrying');
      }
      if (!overdue && ctx.clock.now() >= ctx.overdueAt) { overdue = true; await ctx.onOverdue(); }
      await ctx.clock.sleep(ctx.pollMs, signal);
    }
  } finally {
    hints.stop();
  }
}
