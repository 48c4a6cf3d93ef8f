/**
 * The booted test guest (test/fixtures/guest) with its data disks as volumes on the share:
 * `volume-<vid>` files, serial = volume id, an ext4 file system each, mounted in the guest at
 * /mnt/<target>. One guest per suite.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UndefineFlags, VIR_ERR_NO_DOMAIN, VIR_ERR_OPERATION_INVALID, isLibvirtError, type DomainRef, type LibvirtConnection } from '../../../lib/libvirt/index.js';
import { createDisk, execInGuest, guestImage, guestXml } from '../../fixtures/guest/index.js';

export interface Volume {
  id: string;
  target: string;
  /** The file the volume started with. */
  root: string;
}

export interface BootedGuest {
  name: string;
  dom: DomainRef;
  volumes: Volume[];
  /** Replaceable: a test that restarts libvirtd gives the guest its new connection. */
  conn: LibvirtConnection;
  exec(script: string, timeoutMs?: number): Promise<string>;
  cleanup(): Promise<void>;
}

export async function removeDomain(conn: LibvirtConnection, dom: DomainRef | undefined): Promise<void> {
  if (!dom) return;
  const gone = [VIR_ERR_NO_DOMAIN, VIR_ERR_OPERATION_INVALID];
  await conn.destroy(dom).catch((err: unknown) => { if (!isLibvirtError(err, gone)) throw err; });
  await conn.undefine(dom, UndefineFlags.SNAPSHOTS_METADATA).catch((err: unknown) => { if (!isLibvirtError(err, gone)) throw err; });
}

async function waitForAgent(conn: LibvirtConnection, dom: DomainRef, timeoutMs = 180_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    try {
      await conn.agent(dom, 'guest-ping', undefined, 2);
      return;
    } catch (err) {
      if (Date.now() - start > timeoutMs) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Boot a guest with `n` ext4 volumes on `dir` (vda, vdb, ...), plus one blank volume of
 * `blankMiB` when asked; with agent: false it has no agent channel.
 */
export async function bootGuest(
  conn: LibvirtConnection, dir: string, n: number, options: { agent?: boolean; sizeMiB?: number; blankMiB?: number } = {},
): Promise<BootedGuest> {
  const name = `coordtest-${randomBytes(4).toString('hex')}`;
  const volumes: Volume[] = [];
  let dom: DomainRef | undefined;
  try {
    for (let i = 0; i < n; i += 1) {
      const id = randomUUID();
      const target = `vd${String.fromCharCode('a'.charCodeAt(0) + i)}`;
      await createDisk(dir, `volume-${id}`, (options.sizeMiB ?? 64) * 1024 * 1024, 'ext4');
      volumes.push({ id, target, root: `volume-${id}` });
    }
    if (options.blankMiB) {
      // One more volume without a file system (raw block writes; the benchmark's big deltas).
      const id = randomUUID();
      await createDisk(dir, `volume-${id}`, options.blankMiB * 1024 * 1024, 'blank');
      volumes.push({ id, target: `vd${String.fromCharCode('a'.charCodeAt(0) + n)}`, root: `volume-${id}` });
    }
    const image = await guestImage();
    const disks = volumes.map((v) => ({ target: v.target, serial: v.id, file: path.join(dir, v.root) }));
    // No hot-plug here: drop the fixture's spare root ports (libvirt 9.0 refuses them before pcie-root).
    const xml = guestXml({ name, ...image, disks, agent: options.agent ?? true, consoleLog: path.join(tmpdir(), `${name}.console.log`) })
      .replaceAll("<controller type='pci' model='pcie-root-port'/>", '');
    dom = await conn.defineXml(xml);
    dom = await conn.create(dom);
    const booted = dom;
    if (options.agent ?? true) await waitForAgent(conn, booted);
    const guest: BootedGuest = {
      name, dom: booted, volumes, conn,
      exec: (script, timeoutMs) => execInGuest(guest.conn, booted, script, timeoutMs),
      cleanup: () => removeDomain(guest.conn, booted),
    };
    return guest;
  } catch (err) {
    await removeDomain(conn, dom).catch(() => undefined);
    throw err;
  }
}
