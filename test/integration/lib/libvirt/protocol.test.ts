/**
 * The client against the real libvirtd, without a booted guest: handshake, versions, lookups,
 * define/start/stop/undefine, error codes, keepalive, many calls in flight, several connections.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { isStorageError } from '../../../../lib/core/errors.js';
import {
  DomainEventId, DomainState, LibvirtConnection, LifecycleEventType, ListDomainsFlags, type LifecycleEvent, SnapshotCreateFlags,
  VIR_ERR_ARGUMENT_UNSUPPORTED, VIR_ERR_NO_DOMAIN, isLibvirtError, type DomainRef,
} from '../../../../lib/libvirt/index.js';
import { ensureLibvirtd, guestImage, guestXml } from '../../../fixtures/guest/index.js';
import { makeRunDir } from '../../../fixtures/guest/paths.js';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e);
}

describe('libvirt client on the real daemon (qemu:///system)', function () {
  this.timeout(120_000);
  let conn: LibvirtConnection;

  before(async () => {
    await ensureLibvirtd();
    conn = await LibvirtConnection.connect();
  });

  after(async () => {
    await conn?.close();
  });

  it('reports hypervisor and library versions as exact bigints', async () => {
    const [hv, lib] = await Promise.all([conn.getVersion(), conn.getLibVersion()]);
    expect(typeof hv).to.equal('bigint');
    expect(hv > 1_000_000n).to.equal(true); // QEMU >= 1.0
    expect(lib >= 9_000_000n).to.equal(true);
  });

  it('fails lookups of a missing domain with VIR_ERR_NO_DOMAIN (42)', async () => {
    const byName = await rejection(conn.lookupByName(`absent-${randomBytes(4).toString('hex')}`));
    expect(isLibvirtError(byName, VIR_ERR_NO_DOMAIN), String(byName)).to.equal(true);
    expect((byName as { details: Record<string, unknown> }).details).to.include({ libvirtCode: 42 });
    const byUuid = await rejection(conn.lookupByUuid(randomUUID()));
    expect(isLibvirtError(byUuid, VIR_ERR_NO_DOMAIN)).to.equal(true);
  });

  it('serves 1000 calls issued at once on one connection (queued beyond libvirtd\'s 5 in flight)', async () => {
    const results = await Promise.all(Array.from({ length: 1000 }, () => conn.getLibVersion()));
    expect(new Set(results.map(String)).size).to.equal(1);
    expect(conn.inFlight).to.equal(0);
  });

  it('keeps several connections open at once, each with its own serials', async () => {
    const others = await Promise.all([LibvirtConnection.connect(), LibvirtConnection.connect()]);
    try {
      const versions = await Promise.all([conn, ...others].map((c) => c.getLibVersion()));
      expect(new Set(versions.map(String)).size).to.equal(1);
    } finally {
      await Promise.all(others.map((c) => c.close()));
    }
    expect(others.every((c) => !c.connected)).to.equal(true);
    expect(isStorageError(await rejection(others[0]!.getVersion()), 'LIBVIRT_DISCONNECTED')).to.equal(true);
  });

  it('gets PONGs from libvirtd for its own keepalive pings', async () => {
    // Pings after 100 ms of silence; given up only after 100 unanswered ones (10 s), so that a
    // libvirtd slowed by a loaded machine is not declared dead while the test waits for a PONG.
    const c = await LibvirtConnection.connect({ keepalive: { intervalMs: 100, count: 100 } });
    try {
      // Polled, not a fixed sleep: on a loaded machine the first PONG may take longer than a few periods.
      const deadline = Date.now() + 30_000;
      while (c.keepaliveStats.pongsReceived === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(c.keepaliveStats.pingsSent).to.be.greaterThan(0);
      expect(c.keepaliveStats.pongsReceived).to.be.greaterThan(0);
      expect(c.connected).to.equal(true);
    } finally {
      await c.close();
    }
  });

  describe('a domain without an agent channel', () => {
    let dir: string;
    let dom: DomainRef | undefined;
    let callbackId: number;
    const lifecycle: LifecycleEvent[] = [];

    before(async () => {
      dir = makeRunDir('lvproto');
      conn.events.on('lifecycle', (e) => lifecycle.push(e));
      callbackId = await conn.registerDomainEvent(DomainEventId.LIFECYCLE);
    });

    after(async () => {
      if (dom) {
        await conn.destroy(dom).catch(() => undefined);
        await conn.undefine(dom).catch(() => undefined);
      }
      await conn.deregisterDomainEvent(callbackId);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('defines, looks up by name and UUID, lists, starts, describes, stops and undefines it', async () => {
      const image = await guestImage();
      const name = `lvproto-${randomBytes(4).toString('hex')}`;
      dom = await conn.defineXml(guestXml({ name, ...image, disks: [], agent: false, consoleLog: path.join(dir, 'console.log') }));
      expect(dom.name).to.equal(name);
      expect(dom.id).to.equal(-1);
      expect(await conn.lookupByUuid(dom.uuid)).to.deep.equal(dom);
      expect((await conn.getState(dom)).state).to.equal(DomainState.SHUTOFF);
      const inactive = await conn.listAllDomains(ListDomainsFlags.INACTIVE);
      expect(inactive.map((d) => d.uuid)).to.include(dom.uuid);

      const started = await conn.create(dom);
      expect(started.id).to.be.greaterThan(0);
      expect((await conn.getState(started)).state).to.equal(DomainState.RUNNING);
      expect(await conn.lookupByName(name)).to.deep.equal(started);
      expect(await conn.getXmlDesc(started)).to.contain(`<name>${name}</name>`);

      const agentErr = await rejection(conn.agent(started, 'guest-ping'));
      expect(isLibvirtError(agentErr, VIR_ERR_ARGUMENT_UNSUPPORTED), String(agentErr)).to.equal(true);
      const quiesce = await rejection(conn.fsFreeze(started));
      expect(isLibvirtError(quiesce), String(quiesce)).to.equal(true);

      await conn.destroy(started);
      expect((await conn.getState(started)).state).to.equal(DomainState.SHUTOFF);
      await conn.undefine(started);
      expect(isLibvirtError(await rejection(conn.lookupByUuid(started.uuid)), VIR_ERR_NO_DOMAIN)).to.equal(true);
      dom = undefined;

      const seen = lifecycle.filter((e) => e.domain.uuid === started.uuid).map((e) => e.event);
      expect(seen).to.include.members([LifecycleEventType.DEFINED, LifecycleEventType.STARTED, LifecycleEventType.STOPPED, LifecycleEventType.UNDEFINED]);
    });
  });
});

describe('libvirt client on test:///default (protocol level)', () => {
  let conn: LibvirtConnection;

  before(async () => {
    await ensureLibvirtd();
    conn = await LibvirtConnection.connect({ uri: 'test:///default' });
  });

  after(async () => {
    await conn?.close();
  });

  it('lists and looks up the built-in domain and freezes/thaws it', async () => {
    const [test] = (await conn.listAllDomains()).filter((d) => d.name === 'test');
    expect(test, 'the test driver always has a domain named "test"').to.not.equal(undefined);
    expect(await conn.lookupByName('test')).to.deep.equal(test);
    expect(await conn.getXmlDesc(test!)).to.match(/<domain type='test'/);
    expect(await conn.fsFreeze(test!, ['/'])).to.be.a('number');
    expect(await conn.fsThaw(test!, ['/'])).to.be.a('number');
  });

  it('returns the driver\'s refusal of a disk-only snapshot as LIBVIRT_ERROR', async () => {
    const test = await conn.lookupByName('test');
    const err = await rejection(conn.snapshotCreateXml(test, '<domainsnapshot/>', SnapshotCreateFlags.DISK_ONLY));
    expect(isLibvirtError(err), String(err)).to.equal(true);
    expect((err as { details: { libvirtMessage: string } }).details.libvirtMessage).to.be.a('string').with.length.greaterThan(0);
  });
});
