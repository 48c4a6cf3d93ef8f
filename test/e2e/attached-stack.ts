/**
 * What the attached-volume suites run on: a real GlusterFS volume, a MariaDB database, the storage
 * service (real RemoteFS driver) and the coordinator, both in-process, with mount bases of their
 * own, as on a storage host and a compute host (two FUSE clients of the volume; the coordinator
 * mounts the share itself at the first attach), libvirtd and a booted guest running
 * qemu-guest-agent. stop() removes all of it, also after a start that failed half way. Also what
 * the suites share on it: their callers, their reads of rows, files and the live chain, the attach.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { parseServiceConfig } from '../../src/api/service-config.js';
import { mountPointFor } from '../../lib/core/share-hash.js';
import type { LibvirtConnection } from '../../lib/libvirt/index.js';
import { qemuIo } from '../../lib/qemu/qemu-io.js';
import { startService, type RunningService } from '../../src/api/server.js';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { parseDomainXml } from '../../coordinator/domain/disks.js';
import { createGlusterVolume, type GlusterVolume } from '../fixtures/gluster.js';
import { TestGuest, guestDiskOf, openTestConnection } from '../fixtures/guest/index.js';
import { createTestDatabase, type TestDatabase } from '../fixtures/mariadb.js';
import { until } from '../fixtures/until.js';

type Role = 'admin' | 'member' | 'service';

export interface AttachedStackOptions {
  /** Names the scratch directory and the guest. */
  prefix: string;
  tokens: Record<string, { userId: string; projectId: string; roles: Role[]; host?: string }>;
  /**
   * One of `tokens`, with the service role: the coordinator's outbound token (it reports and
   * registers itself with it). The stack binds it to the coordinator's host name. The driver
   * calls the coordinator with the coordinator's own inbound token, from the registry.
   */
  serviceToken: string;
}

export interface AttachedStack {
  scratch: string;
  gv: GlusterVolume;
  db: TestDatabase;
  svc: RunningService;
  /** The coordinator's name in the registry of compute hosts (the service token is bound to it). */
  hostName: string;
  /** The only token the coordinator accepts (its inbound token; the storage API does not accept it). */
  coordToken: string;
  coord: RunningCoordinator;
  conn: LibvirtConnection;
  guest: TestGuest;
  api: ReturnType<typeof supertest>;
  coordHttp: ReturnType<typeof supertest>;
  /** The storage service's mount of the share: where the tests read the files on the host. */
  storageDir: string;
  /** The coordinator's mount base (its mount of the share is `<base>/<share hash>`). */
  computeMountBase: string;
  stop(): Promise<void>;
}

async function stopAll(p: Partial<AttachedStack>): Promise<void> {
  await p.guest?.cleanup().catch(() => undefined);
  await p.conn?.close().catch(() => undefined);
  await p.coord?.stop().catch(() => undefined);
  await p.svc?.stop().catch(() => undefined);
  await p.db?.drop().catch(() => undefined);
  await p.gv?.destroy().catch(() => undefined); // unmounts every mount of it, the coordinator's too
  if (p.scratch) await rm(p.scratch, { recursive: true, force: true });
}

export async function startAttachedStack(o: AttachedStackOptions): Promise<AttachedStack> {
  const p: Partial<AttachedStack> = {};
  try {
    const scratch = p.scratch = await mkdtemp(path.join(tmpdir(), `qcs-${o.prefix}-`));
    await chmod(scratch, 0o755); // QEMU (libvirt-qemu) traverses it to the compute host's mount
    const gv = p.gv = await createGlusterVolume();
    const db = p.db = await createTestDatabase();
    const storage = {
      driver: 'remotefs', shares: [{ type: 'glusterfs', address: gv.address }], mountBase: path.join(scratch, 'storage-mnt'),
      leaseDir: path.join(scratch, 'leases'), fileOwner: 'libvirt-qemu:libvirt-qemu', fileMode: '0660',
    };
    // The service token is bound to this compute host: with it the coordinator registers itself, and only itself.
    const hostName = `${o.prefix}-compute-${randomUUID().slice(0, 8)}`;
    const coordToken = `inbound-${randomUUID()}`;
    const serviceEntry = o.tokens[o.serviceToken];
    if (!serviceEntry) throw new Error('serviceToken must be one of tokens');
    const tokens = { ...o.tokens, [o.serviceToken]: { ...serviceEntry, host: hostName } };
    const svc = p.svc = await startService({ config: parseServiceConfig({
      log: { level: 'silent' }, db: db.config, api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens }, storage,
    }) });
    const computeMountBase = path.join(scratch, 'compute-mnt'); // a compute host's own mount of the share
    const coord = p.coord = await startCoordinator(parseServiceConfig({
      log: { level: 'silent' }, storage: { ...storage, mountBase: computeMountBase },
      coordinator: {
        host: '127.0.0.1', port: 0, metadataApi: svc.url, serviceToken: o.serviceToken, inboundToken: coordToken, hostName,
        stateDir: path.join(scratch, 'coord-state'), quiesce: 'prefer',
      },
    }));
    if (!(await coord.registered)) throw new Error('the coordinator did not register itself with the storage service');
    const conn = p.conn = await openTestConnection();
    const guest = p.guest = await TestGuest.start(conn, { prefix: o.prefix, disks: [{ target: 'vda', serial: randomUUID(), content: 'ext4' }] });
    await guest.waitForAgent();
    return {
      scratch, gv, db, svc, hostName, coordToken, coord, conn, guest, api: supertest(svc.url), coordHttp: supertest(coord.url),
      storageDir: mountPointFor(storage.mountBase, gv.address), computeMountBase, stop: () => stopAll(p),
    };
  } catch (err) {
    await stopAll(p);
    throw err;
  }
}

/** Bytes of one block the guest writes a pattern into (guest.writeBlockPattern counts in 64 KiB blocks). */
export const K64 = 65536;

/** The callers the attached suites act as: alice (a member), an admin, the coordinator's service token. Fresh tokens per process. */
export function attachedTokens(): { tokens: AttachedStackOptions['tokens']; serviceToken: string; adminToken: string } {
  const serviceToken = `svc-${randomUUID()}`;
  const adminToken = `admin-${randomUUID()}`;
  return {
    serviceToken,
    adminToken,
    tokens: {
      alice: { userId: 'u-alice', projectId: 'p-alice', roles: ['member'] },
      [adminToken]: { userId: 'u-admin', projectId: 'p-admin', roles: ['admin'] },
      [serviceToken]: { userId: 'u-coordinator', projectId: 'p-service', roles: ['service'] },
    },
  };
}

export type Caller = 'alice' | 'admin' | 'svc';

/** What the attached suites read of a running stack: the API rows, the files on the storage side's mount, the guest's live chain. */
export function stackReads(stack: () => AttachedStack, t: { serviceToken: string; adminToken: string }) {
  const as = (who: Caller) => ({ 'X-Auth-Token': who === 'alice' ? 'alice' : who === 'admin' ? t.adminToken : t.serviceToken });
  const dir = () => stack().storageDir;
  return {
    as,
    info: async (vid: string) => JSON.parse(await readFile(path.join(dir(), `volume-${vid}.info`), 'utf8')),
    hostRead: (file: string, cmds: string[]) => qemuIo(path.join(dir(), file), 'qcow2', cmds, { readOnly: true }),
    filesOf: async (vid: string) => (await readdir(dir())).filter((f) => f.startsWith(`volume-${vid}`)),
    volumeOf: async (vid: string) => (await stack().api.get(`/v3/volumes/${vid}`).set(as('alice'))).body.volume as { status: string; attachments: { active_file: string }[] } | undefined,
    /** Every snapshot row of the volume, hidden ones included (admin). */
    allSnapshots: async (vid: string) => (await stack().api.get(`/v3/snapshots?volume_id=${vid}&all_tenants=1&include_hidden=true`).set(as('admin')).expect(200)).body.snapshots as StackSnapshot[],
    liveChain: async (vid: string) => parseDomainXml(await stack().guest.liveXml()).disks.find((x) => x.serial === vid)?.chain.map((l) => l.name),
  };
}

export interface StackSnapshot { id: string; name: string | null; status: string; hidden?: boolean; metadata?: Record<string, string> }

/** Attaches the available volume to the running guest through the coordinator; the guest's device for it once the guest sees it. */
export async function attachToGuest(stack: AttachedStack, volumeId: string): Promise<string> {
  const a = await stack.coordHttp.post(`/v1/instances/${stack.guest.dom.uuid}/volumes/${volumeId}`).set({ 'X-Auth-Token': stack.coordToken });
  expect(a.status, JSON.stringify(a.body)).to.equal(201);
  return until('guest sees the disk', () => guestDiskOf(stack.guest, volumeId), 60_000);
}
