/**
 * The fault kinds: where each strikes, on which operations, and how. `strike` is called right
 * after the operation was accepted and resolves with the moment of the fault (convergence is
 * timed from it) and whether the fault met the operation still running.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { statfs, unlink } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../lib/core/process.js';
import { sleep, until } from './api.js';
import type { Env } from './env.js';
import { KILL_WINDOW_MS, operationState, type OperationKind, type Started } from './operations.js';
import type { PrivateMariaDb } from './private-mariadb.js';
import type { Rng } from './rng.js';

export const FAULT_KINDS = ['service-kill', 'qemu-img-kill', 'enospc', 'mariadb-restart', 'gluster-brick'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Strike {
  at: number;
  /**
   * The fault met the operation still running (a kill after its end tests less); null: decided
   * afterwards from the operation's finish time (asking before the kill would delay it).
   */
  midOperation: boolean | null;
  note: string;
}

export interface Fault {
  kind: FaultKind;
  ops: readonly OperationKind[];
  /** Before the operation starts (ENOSPC fills the share here). */
  prepare?(env: Env, rng: Rng): Promise<string>;
  strike(env: Env, rng: Rng, op: OperationKind, started: Started): Promise<Strike>;
}

const OFFLINE: readonly OperationKind[] = ['volume-create', 'snapshot-create', 'delete-commit', 'delete-pull', 'revert', 'extend', 'clone', 'create-from'];

/** The storage service's process group, SIGKILLed at a seeded moment, then a new process. */
export const serviceKill: Fault = {
  kind: 'service-kill', ops: OFFLINE,
  async strike(env, rng, op, _started) {
    const delay = rng.int(0, KILL_WINDOW_MS[op]);
    await sleep(delay);
    const at = Date.now();
    await env.service().kill();
    await env.restart();
    return { at, midOperation: null, note: `${delay} ms` };
  },
};

/** Every descendant of `pid` (Linux /proc). */
async function descendants(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const kids = text.trim().split(/\s+/).filter((p) => p !== '').map(Number);
  return [...kids, ...(await Promise.all(kids.map(descendants))).flat()];
}

const QEMU_TOOLS = ['qemu-img', 'qemu-io'];
const commOf = (pid: number) => readFile(`/proc/${pid}/comm`, 'utf8').then((s) => s.trim(), () => '');

/**
 * The service's first or second qemu-img (or qemu-io) child (seeded: a `qemu-img info`, `measure`
 * or `check` as well as the commit, convert, rebase or copy-on-read itself), SIGKILLed a seeded
 * few ms after it was seen; the service keeps running.
 */
export const qemuImgKill: Fault = {
  // The operations that run qemu-img or qemu-io here (creates, snapshot creates and reverts write
  // their qcow2 headers natively).
  kind: 'qemu-img-kill', ops: ['delete-commit', 'delete-pull', 'extend', 'clone', 'create-from'],
  async strike(env, rng, _op, started) {
    const skip = rng.int(0, 1);
    const delay = rng.int(0, 3);
    const seen = new Set<number>();
    let ended = false;
    const watcher = (async () => {
      for (;;) {
        if (await operationState(env.api(), started.opId) !== null) { ended = true; return; }
        await sleep(50);
      }
    })();
    try {
      while (!ended) {
        for (const pid of await descendants(env.service().pid)) {
          // A child is `setpriv` (or a fork not yet exec'd) until it execs the tool: looked at again next turn.
          if (seen.has(pid) || !QEMU_TOOLS.includes(await commOf(pid))) continue;
          seen.add(pid);
          if (seen.size <= skip) continue;
          await sleep(delay);
          const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
          const cmdline = `${path.basename(argv[0] ?? '?')} ${argv[1] ?? ''}`;
          const at = Date.now();
          try {
            process.kill(pid, 'SIGKILL');
            return { at, midOperation: true, note: `${cmdline} (#${seen.size}, +${delay} ms)` };
          } catch {
            return { at, midOperation: false, note: `qemu-img #${seen.size} had ended` };
          }
        }
        await new Promise((r) => setImmediate(r));
      }
      return { at: Date.now(), midOperation: false, note: `ended after ${seen.size} qemu-img, none killed` };
    } finally {
      ended = true;
      await watcher.catch(() => undefined);
    }
  },
};

const FILLER = 'campaign-filler';
/** What is left free on the share for the operation (seeded): from nothing to a few MiB. */
const ROOM = [0, 4096, 65536, 262144, 1 << 20, 3 << 20, 6 << 20, 12 << 20];

/**
 * A full share: filled (fallocate) to leave a seeded sliver of room, the operation runs into it,
 * then the space is freed and the service must converge by itself, without a restart.
 */
export const enospc: Fault = {
  kind: 'enospc', ops: ['volume-create', 'snapshot-create', 'delete-commit', 'delete-pull', 'extend', 'clone'],
  async prepare(env, rng) {
    const room = rng.pick(ROOM);
    const s = await statfs(env.share);
    const free = s.bavail * s.bsize;
    if (free > room) await run('fallocate', ['-l', String(free - room), path.join(env.share, FILLER)]);
    return `${room} bytes left`;
  },
  async strike(env, _rng, _op, started) {
    const end = await until('the operation under ENOSPC ends', async () => (await operationState(env.api(), started.opId)) ?? undefined, 90_000, 100).catch(() => null);
    await unlink(path.join(env.share, FILLER)).catch(() => undefined);
    return { at: Date.now(), midOperation: true, note: end === null ? 'still running' : `${end.state}${end.error ? `: ${end.error.slice(0, 60)}` : ''}` };
  },
};

/** The campaign's private MariaDB, SIGKILLed at a seeded moment and started again after a seeded pause. */
export function mariadbRestart(db: PrivateMariaDb): Fault {
  return {
    kind: 'mariadb-restart', ops: OFFLINE,
    async strike(env, rng, op, _started) {
      const delay = rng.int(0, KILL_WINDOW_MS[op]);
      const down = rng.int(200, 3000);
      await sleep(delay);
      const at = Date.now();
      await db.kill();
      await sleep(down);
      await db.start();
      return { at, midOperation: null, note: `${delay} ms, down ${down} ms` };
    },
  };
}

/** The brick's process id, or null while glusterd reports it offline. */
export async function brickPid(volume: string, brick: string): Promise<number | null> {
  const r = await run('gluster', ['--mode=script', 'volume', 'status', volume, '--xml'], { timeoutMs: 60_000, allowFailure: true });
  for (const node of r.stdout.split('<node>').slice(1)) {
    if (!node.includes(`<path>${brick}</path>`)) continue;
    const pid = Number(/<pid>(\d+)<\/pid>/.exec(node)?.[1]);
    return /<status>1<\/status>/.test(node) && pid > 0 ? pid : null;
  }
  return null;
}

/** Waits until glusterd sees the brick down (a `start force` before that finds it "online" and does nothing) or up. */
export async function brickState(volume: string, brick: string, online: boolean, timeoutMs = 120_000): Promise<number | null> {
  return until(`brick of ${volume} ${online ? 'online' : 'offline'}`, async () => {
    const pid = await brickPid(volume, brick);
    return (pid !== null) === online ? pid : undefined;
  }, timeoutMs, 250);
}

/**
 * `start force` until the brick is online. Only once the killed process is reaped: while its pid
 * still exists glusterd "discovers an already-running brick" and starts nothing.
 */
export async function restartBrick(volume: string, brick: string, killed: number): Promise<void> {
  await until(`brick process ${killed} reaped`, async () => (existsSync(`/proc/${killed}`) ? undefined : true), 60_000, 100);
  await until(`brick of ${volume} started again`, async () => {
    await run('gluster', ['--mode=script', 'volume', 'start', volume, 'force'], { timeoutMs: 120_000 });
    return brickState(volume, brick, true, 10_000).then(() => true, () => undefined);
  }, 120_000, 500);
}

/**
 * The brick of a private single-brick GlusterFS volume SIGKILLed mid-merge: the operation must
 * fail clearly; once `gluster volume start <v> force` brings the brick back, everything converges.
 */
export function glusterBrick(volume: string, brick: string): Fault {
  return {
    kind: 'gluster-brick', ops: ['delete-commit', 'delete-pull'],
    async strike(env, rng, op, started) {
      const delay = rng.int(0, KILL_WINDOW_MS[op]);
      const pid = await brickState(volume, brick, true) as number;
      await sleep(delay);
      const at = Date.now();
      process.kill(pid, 'SIGKILL');
      const end = await until('the operation without its brick ends', async () => (await operationState(env.api(), started.opId)) ?? undefined, 120_000, 200).catch(() => null);
      await brickState(volume, brick, false);
      await restartBrick(volume, brick, pid);
      return { at, midOperation: null, note: `${delay} ms; ${end === null ? 'still running' : `${end.state}${end.error ? `: ${end.error.slice(0, 80)}` : ''}`}` };
    },
  };
}
