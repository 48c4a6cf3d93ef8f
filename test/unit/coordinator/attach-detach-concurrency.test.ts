/**
 * Concurrent attaches and detaches on one domain (coordinator/attach/attach-volume.ts): each
 * attach must get a disk name of its own, the same volume attached twice at once is plugged once,
 * and concurrent unplug requests never overlap. The fake domain behaves like libvirt 9.0 with a
 * native PCIe hot-plug guest: attaching a target that exists fails ("target vdb already exists");
 * an unplug request holds the domain's job while it waits for the guest (another request meanwhile
 * fails: "cannot acquire state change lock"), and the guest releases the disk a little later.
 * Every call takes a turn of the event loop, as a socket round trip does.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KeyedMutex } from '../../../lib/core/keyed-mutex.js';
import { run } from '../../../lib/core/process.js';
import { attachVolume, detachVolume, type AttachDeps } from '../../../coordinator/attach/attach-volume.js';
import type { DomainDevices } from '../../../coordinator/attach/devices.js';
import { InFlight } from '../../../coordinator/attach/in-flight.js';
import { HostMounts, type ShareConnection } from '../../../coordinator/attach/mounts.js';
import type { StorageVolumeApi } from '../../../coordinator/attach/storage-api.js';
import { silent } from '../../fixtures/coordinator/context.js';

const turn = () => new Promise((r) => setTimeout(r, 1));

class FakeDomain {
  readonly disks = new Map<string, { file: string; serial: string }>();
  /** The persistent definition's disks: an unplug request drops the disk here at once (as libvirt does). */
  readonly defined = new Map<string, { file: string; serial: string }>();
  plugs = 0;
  unplugs = 0;
  private inJob = false;

  async isActive(): Promise<boolean> {
    await turn();
    return true;
  }

  async xml(): Promise<string> {
    return this.render(this.disks);
  }

  async inactiveXml(): Promise<string> {
    return this.render(this.defined);
  }

  private async render(from: Map<string, { file: string; serial: string }>): Promise<string> {
    await turn();
    const disks = [...from].map(([target, d]) => `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>` +
      `<source file='${d.file}'/><target dev='${target}' bus='virtio'/><serial>${d.serial}</serial></disk>`);
    return `<domain type='qemu'><name>fake</name><devices>${disks.join('')}</devices></domain>`;
  }

  async attach(_uuid: string, diskXml: string): Promise<void> {
    await turn();
    const target = /<target dev='([^']+)'/.exec(diskXml)?.[1] as string;
    if (this.disks.has(target)) throw new Error(`Requested operation is not valid: target ${target} already exists`);
    this.plugs += 1;
    const disk = { file: /<source file='([^']+)'/.exec(diskXml)?.[1] as string, serial: /<serial>([^<]+)</.exec(diskXml)?.[1] as string };
    this.disks.set(target, disk);
    this.defined.set(target, disk);
  }

  async detach(_uuid: string, diskXml: string): Promise<void> {
    if (this.inJob) throw new Error('Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainDetachDeviceFlags)');
    this.inJob = true;
    await turn();
    await turn();
    this.inJob = false;
    this.unplugs += 1;
    const target = /<target dev='([^']+)'/.exec(diskXml)?.[1] as string;
    this.defined.delete(target);
    setTimeout(() => this.disks.delete(target), 20); // the guest acknowledges later
  }

  async allXml(): Promise<string[]> {
    return [await this.xml()];
  }
}

describe('coordinator attach/detach: concurrent requests on one domain', () => {
  let dir: string;
  /** What the attachments API was told: each reservation's connector, and the completed ones. */
  const records: { attachmentId: string; mountpoint: string; completed: boolean }[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-attach-'));
    await chmod(dir, 0o755); // the attach checks that QEMU's user could open the files
  });
  after(() => rm(dir, { recursive: true, force: true }));

  function deps(domain: FakeDomain): AttachDeps {
    const storage: StorageVolumeApi = {
      reserve: async (vid, _instance, connector) => {
        await turn();
        const attachmentId = randomUUID();
        records.push({ attachmentId, mountpoint: String(connector.mountpoint), completed: false });
        const connection: ShareConnection = { driver_volume_type: 'local', data: { export: dir, name: `volume-${vid}`, format: 'qcow2', options: null } };
        return { attachmentId, connection };
      },
      complete: async (id) => {
        await turn();
        const r = records.find((x) => x.attachmentId === id);
        if (r) r.completed = true;
      },
      release: async () => undefined,
      detach: async () => { await turn(); },
    };
    return {
      devices: domain as unknown as DomainDevices, mounts: new HostMounts(dir, dir), storage, log: silent,
      hostName: 'compute-test', unplugTimeoutMs: 5000, domainLocks: new KeyedMutex(), inFlight: new InFlight(),
    };
  }

  async function volumes(n: number): Promise<string[]> {
    const ids = Array.from({ length: n }, () => randomUUID());
    for (const id of ids) {
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(dir, `volume-${id}`), '1M']);
      await chmod(path.join(dir, `volume-${id}`), 0o666);
    }
    return ids;
  }

  it('ten volumes at once: ten distinct targets, all plugged and recorded', async () => {
    const domain = new FakeDomain();
    const d = deps(domain);
    const ids = await volumes(10);
    records.length = 0;
    const results = await Promise.all(ids.map((id) => attachVolume(d, randomUUIDOf('dom'), id)));
    expect(results.every((r) => r.created)).to.equal(true);
    expect(new Set(results.map((r) => r.disk.target)).size).to.equal(10);
    expect(domain.plugs).to.equal(10);
    expect(records.every((r) => r.completed)).to.equal(true);
    expect(records.map((r) => r.mountpoint).sort()).to.deep.equal(results.map((r) => `/dev/${r.disk.target}`).sort());
  });

  it('the same volume twice at once: plugged once; the second answer is "already attached"', async () => {
    const domain = new FakeDomain();
    const d = deps(domain);
    const [id] = await volumes(1) as [string];
    const results = await Promise.all([attachVolume(d, randomUUIDOf('dom'), id), attachVolume(d, randomUUIDOf('dom'), id)]);
    expect(results.map((r) => r.created).sort()).to.deep.equal([false, true]);
    expect(domain.plugs).to.equal(1);
  });

  it('ten detaches at once: the unplug requests never overlap, all ten disks released', async () => {
    const domain = new FakeDomain();
    const d = deps(domain);
    const ids = await volumes(10);
    await Promise.all(ids.map((id) => attachVolume(d, randomUUIDOf('dom'), id)));
    await Promise.all(ids.map((id) => detachVolume(d, randomUUIDOf('dom'), id)));
    expect(domain.unplugs).to.equal(10);
    expect(domain.disks.size).to.equal(0);
  });
});

/** One fixed uuid per name (the fake has one domain). */
const uuids = new Map<string, string>();
function randomUUIDOf(name: string): string {
  if (!uuids.has(name)) uuids.set(name, randomUUID());
  return uuids.get(name) as string;
}
