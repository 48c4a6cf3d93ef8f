/**
 * The environment of the live lane: a GlusterFS volume, the storage service and the coordinator
 * as child processes on FIXED ports (the coordinator's metadata API and the endpoint it registers
 * stay valid across restarts), libvirtd with the booted test guest, and the campaign's own FUSE
 * mount of the volume (no page cache, no attribute cache: what it reads is what is on the bricks).
 * Both processes are started through the crash-hook entries of test/e2e, so that a fault can arm a
 * crash point or a stop point (QCOWSHARE_TEST_STOP_AT) for the next process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../lib/core/process.js';
import type { LibvirtConnection } from '../../lib/libvirt/index.js';
import { createGlusterVolume, type GlusterVolume } from '../../test/fixtures/gluster.js';
import { freePort } from '../../test/fixtures/free-port.js';
import { TestGuest, ensureLibvirtd, openTestConnection } from '../../test/fixtures/guest/index.js';
import { Api, TOKENS } from './api.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVICE_ENTRY = path.join(REPO_ROOT, 'test/fixtures/e2e/service-entry.ts');
const COORDINATOR_ENTRY = path.join(REPO_ROOT, 'test/fixtures/e2e/coordinator/daemon-entry.ts');
/** Short lease: a restarted service takes over a dead one's volumes within seconds. */
const LEASE_TTL_MS = 3000;
/** Live merges throttled so that a fault seeded inside the window meets the block job running. */
export const BLOCK_JOB_MIBPS = 1;

export interface Proc {
  pid: number;
  exited: Promise<void>;
  /** SIGKILL of the process group; resolves once the process is gone. */
  kill(): Promise<void>;
}

/** A test entry as a child process in a process group of its own; resolves once it listens. */
async function startEntry(dir: string, entry: string, logName: string, config: Record<string, unknown>, env: Record<string, string>): Promise<Proc> {
  const configFile = path.join(dir, `${logName}.json`);
  writeFileSync(configFile, JSON.stringify(config));
  const logFd = openSync(path.join(dir, `${logName}.log`), 'a');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: REPO_ROOT, env: { ...process.env, ...env, QCOWSHARE_CONFIG: configFile }, stdio: ['ignore', 'pipe', logFd], detached: true,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (/\{"listening":"[^"]+"\}/.test(out)) resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`${logName} exited (${code ?? signal}) before listening; see ${logName}.log`)));
  });
  const pid = child.pid as number;
  return {
    pid, exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        // A stopped process dies of SIGKILL too; SIGCONT is not needed.
        try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      await exited;
    },
  };
}

export interface LiveEnv {
  name: string;
  /** The campaign's own mount of the share (reads only). */
  share: string;
  api(): Api;
  service(): Proc;
  coordinator(): Proc;
  coordUrl: string;
  /** What the storage side presents to the coordinator (its inbound token). */
  coordToken: string;
  guest: TestGuest;
  /** The suite's libvirt connection, opened again after a libvirtd restart. */
  conn(): Promise<LibvirtConnection>;
  /** A new service process (the old one killed first, if still there); `env` arms a hook in it. */
  restartService(env?: Record<string, string>): Promise<void>;
  restartCoordinator(env?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

/** `storageOptions`: more storage options for both processes (a suite's own bounds). */
export async function openLiveEnv(scratch: string, name: string, db: Record<string, unknown>, storageOptions: Record<string, unknown> = {}): Promise<LiveEnv> {
  const dir = path.join(scratch, name);
  await mkdir(dir, { recursive: true });
  const cleanups: (() => Promise<unknown>)[] = [];
  const closeAll = async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); };
  try {
    const gv: GlusterVolume = await createGlusterVolume();
    cleanups.push(() => gv.destroy());
    const view = path.join(dir, 'view');
    await mkdir(view, { recursive: true });
    await run('mount', ['-t', 'glusterfs', '-o', 'direct-io-mode=enable,attribute-timeout=0,entry-timeout=0', gv.address, view], { timeoutMs: 60_000 });
    cleanups.push(() => run('umount', ['-l', view], { allowFailure: true }));
    const hostName = `campaign-compute-${randomUUID().slice(0, 8)}`;
    const serviceToken = `svc-${randomUUID()}`;
    const coordToken = `inbound-${randomUUID()}`;
    const svcPort = await freePort();
    const coordPort = await freePort();
    const svcUrl = `http://127.0.0.1:${svcPort}`;
    const coordUrl = `http://127.0.0.1:${coordPort}`;
    const storage = {
      driver: 'remotefs', shares: [{ type: 'glusterfs', address: gv.address }], mountBase: path.join(dir, 'storage-mnt'),
      leaseDir: path.join(dir, 'leases'), fileOwner: 'libvirt-qemu:libvirt-qemu', fileMode: '0660', leaseTtlMs: LEASE_TTL_MS,
      reservedPercentage: 0, overSubscriptionRatio: 1000,
      // An attachment a killed attach left `attaching` is settled once this old (an attach still
      // running on the host is never settled, whatever its age): well inside the live bound.
      attachSettleGraceMs: 5000,
      ...storageOptions,
    };
    const tokens = { ...TOKENS, [serviceToken]: { userId: 'u-coordinator', projectId: 'p-service', roles: ['service'], host: hostName } };
    const svcConfig = { log: { level: 'info' }, db, api: { host: '127.0.0.1', port: svcPort, auth: 'tokens', tokens }, storage };
    const coordConfig = {
      log: { level: 'info' }, storage: { ...storage, mountBase: path.join(dir, 'compute-mnt') },
      coordinator: {
        host: '127.0.0.1', port: coordPort, metadataApi: svcUrl, serviceToken, hostName, inboundToken: coordToken,
        stateDir: path.join(dir, 'coord-state'), quiesce: 'prefer', pollIntervalMs: 100, blockJobBandwidthMiBps: BLOCK_JOB_MIBPS,
        freezeTimeoutMs: 5000,
      },
    };
    let svc = await startEntry(dir, SERVICE_ENTRY, 'service', svcConfig, {});
    cleanups.push(() => svc.kill());
    // The coordinator connects to libvirtd as it starts: the daemon is started first when it is
    // not running (these machines have no systemd; the guest fixture would start it only later).
    await ensureLibvirtd();
    let coord = await startEntry(dir, COORDINATOR_ENTRY, 'coordinator', coordConfig, {});
    cleanups.push(() => coord.kill());
    let conn = await openTestConnection();
    cleanups.push(() => conn.close());
    const guest = await TestGuest.start(conn, { prefix: `campaign-${name}`, disks: [{ target: 'vda', serial: randomUUID(), content: 'ext4' }] });
    cleanups.push(() => guest.cleanup());
    await guest.waitForAgent();
    const api = new Api(svcUrl);
    return {
      name, share: view, api: () => api, service: () => svc, coordinator: () => coord, coordUrl, coordToken, guest,
      conn: async () => {
        if (!conn.connected) {
          conn = await openTestConnection();
          (guest as { conn: LibvirtConnection }).conn = conn;
        }
        return conn;
      },
      restartService: async (env = {}) => {
        await svc.kill();
        svc = await startEntry(dir, SERVICE_ENTRY, 'service', svcConfig, env);
      },
      restartCoordinator: async (env = {}) => {
        await coord.kill();
        coord = await startEntry(dir, COORDINATOR_ENTRY, 'coordinator', coordConfig, env);
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    await rm(path.join(dir, 'view'), { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** The process's state letter from /proc (T: stopped), or null when it is gone. */
export async function procState(pid: number): Promise<string | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return text === null ? null : (/\) (\S)/.exec(text)?.[1] ?? null);
}
