import { expect } from 'chai';
import { isStorageError } from '../../../../lib/core/errors.js';
import {
  BlockJobStatus, BlockJobType, LibvirtConnection, VIR_ERR_NO_DOMAIN, VIR_FROM, isLibvirtError,
} from '../../../../lib/libvirt/index.js';
import { KeepaliveProc, Program, RemoteProc } from '../../../../lib/libvirt/protocol.js';
import { XdrReader, XdrWriter } from '../../../../lib/libvirt/xdr.js';
import { SCRIPTED_DOMAIN, scriptedDaemonHooks, scriptedDomainBody, writeRemoteError, type ReceivedCall } from '../../../fixtures/libvirt/fake-libvirtd.js';

const dom = SCRIPTED_DOMAIN;
const domainBody = scriptedDomainBody;

/** Poll `check` every few ms; a loaded machine's deadline (what is awaited is a local socket's round trip). */
function until(check: () => boolean, ms = 30_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (check()) { clearInterval(t); resolve(); } else if (Date.now() - start > ms) { clearInterval(t); reject(new Error('condition not met')); }
    }, 5);
  });
}

describe('libvirt transport against a scripted daemon', () => {
  const daemon = scriptedDaemonHooks();

  it('does AUTH_LIST, CONNECT_OPEN with the URI, then asks about keepalive, in that order', async () => {
    await daemon.connect({ uri: 'test:///default' });
    const procs = daemon.fake.received.map((c) => c.header.procedure);
    expect(procs).to.deep.equal([RemoteProc.AUTH_LIST, RemoteProc.CONNECT_OPEN, RemoteProc.CONNECT_SUPPORTS_FEATURE]);
    const open = new XdrReader((daemon.fake.received[1] as ReceivedCall).body);
    expect(open.optional((r) => r.string())).to.equal('test:///default');
  });

  it('runs AUTH_POLKIT when the socket asks for polkit, and refuses SASL with a clear code', async () => {
    daemon.fake.authTypes = [2];
    await daemon.connect();
    expect(daemon.fake.received.map((c) => c.header.procedure).slice(0, 3)).to.deep.equal([RemoteProc.AUTH_LIST, RemoteProc.AUTH_POLKIT, RemoteProc.CONNECT_OPEN]);
    daemon.fake.authTypes = [1];
    const err = await LibvirtConnection.connect({ socketPath: daemon.fake.socketPath }).then(() => undefined, (e: unknown) => e);
    expect(isStorageError(err, 'LIBVIRT_AUTH_UNSUPPORTED')).to.equal(true);
  });

  it('matches replies to calls by serial even when they come back out of order', async () => {
    const held: ReceivedCall[] = [];
    daemon.fake.handler = (c) => { held.push(c); return 'hold'; };
    const conn = await daemon.connect();
    const calls = [conn.lookupByName('a'), conn.lookupByName('b'), conn.lookupByName('c')];
    await until(() => held.length === 3);
    const socket = [...(daemon.fake as unknown as { clients: Set<import('node:net').Socket> }).clients][0]!;
    for (const c of [...held].reverse()) {
      const name = new XdrReader(c.body).string();
      daemon.fake.reply(socket, c.header, Buffer.from(new XdrWriter().string(name).fixedOpaque(Buffer.alloc(16), 16).int(-1).toBuffer()));
    }
    expect((await Promise.all(calls)).map((d) => d.name)).to.deep.equal(['a', 'b', 'c']);
    expect(new Set(held.map((c) => c.header.serial)).size).to.equal(3);
  });

  it('decodes remote_error into LIBVIRT_ERROR with libvirt code, domain and message', async () => {
    daemon.fake.handler = () => ({ error: (w) => writeRemoteError(w, VIR_ERR_NO_DOMAIN, VIR_FROM.QEMU, "Domain not found: no domain with matching name 'x'") });
    const conn = await daemon.connect();
    const err = await conn.lookupByName('x').then(() => undefined, (e: unknown) => e);
    expect(isLibvirtError(err, VIR_ERR_NO_DOMAIN)).to.equal(true);
    expect(isLibvirtError(err, [1, 2])).to.equal(false);
    expect((err as { details: unknown }).details).to.include({ libvirtCode: 42, libvirtDomain: 10, procedure: 'DOMAIN_LOOKUP_BY_NAME' });
    expect((err as Error).message).to.match(/Domain not found/);
  });

  it('returns block-job progress above 2^53 exactly', async () => {
    const cur = (1n << 60n) + 1n;
    const end = (1n << 62n) + 3n;
    daemon.fake.handler = () => Buffer.from(new XdrWriter().int(1).int(BlockJobType.ACTIVE_COMMIT).uhyper(7n).uhyper(cur).uhyper(end).toBuffer());
    const conn = await daemon.connect();
    expect(await conn.getBlockJobInfo(dom, 'vda')).to.deep.equal({ type: BlockJobType.ACTIVE_COMMIT, bandwidth: 7n, cur, end });
    daemon.fake.handler = () => Buffer.from(new XdrWriter().int(0).int(0).uhyper(0n).uhyper(0n).uhyper(0n).toBuffer());
    expect(await conn.getBlockJobInfo(dom, 'vda')).to.equal(null);
  });

  it('asks a disk\'s block info by target and reads allocation, capacity and physical in that order', async () => {
    daemon.fake.handler = () => Buffer.from(new XdrWriter().uhyper(5n).uhyper(3n << 30n).uhyper(7n).toBuffer());
    const conn = await daemon.connect();
    expect(await conn.getBlockInfo(dom, 'vdb')).to.deep.equal({ allocation: 5n, capacity: 3n << 30n, physical: 7n });
    const call = daemon.fake.received.at(-1) as ReceivedCall;
    expect(call.header.procedure).to.equal(RemoteProc.DOMAIN_GET_BLOCK_INFO);
    const r = new XdrReader(call.body);
    r.string(); r.fixedOpaque(16); r.int();
    expect(r.string()).to.equal('vdb');
    expect(r.uint()).to.equal(0);
  });

  it('encodes block commit with optional base/top and 64-bit bandwidth', async () => {
    const conn = await daemon.connect();
    await conn.blockCommit(dom, 'vda', { base: 'volume-1', top: null, bandwidth: 1n << 40n, flags: 4 | 8 });
    const call = daemon.fake.received.at(-1) as ReceivedCall;
    expect(call.header.procedure).to.equal(RemoteProc.DOMAIN_BLOCK_COMMIT);
    const r = new XdrReader(call.body);
    r.string(); r.fixedOpaque(16); r.int();
    expect([r.string(), r.optional((x) => x.string()), r.optional((x) => x.string()), r.uhyper(), r.uint()])
      .to.deep.equal(['vda', 'volume-1', null, 1n << 40n, 12]);
    r.end('commit args');
  });

  it('sends the agent command on the QEMU program', async () => {
    daemon.fake.handler = () => Buffer.from(new XdrWriter().optional('{"return":{}}', (w, v) => w.string(v)).toBuffer());
    const conn = await daemon.connect();
    expect(await conn.agent(dom, 'guest-ping')).to.deep.equal({});
    const call = daemon.fake.received.at(-1) as ReceivedCall;
    expect([call.header.program, call.header.procedure]).to.deep.equal([Program.QEMU, 3]);
  });

  it('answers a keepalive PING with a PONG', async () => {
    const conn = await daemon.connect();
    daemon.fake.push(Program.KEEPALIVE, KeepaliveProc.PING);
    await until(() => daemon.fake.received.some((c) => c.header.program === Program.KEEPALIVE && c.header.procedure === KeepaliveProc.PONG));
    expect(conn.keepaliveStats.pingsReceived).to.equal(1);
  });

  it('pings a silent daemon and gives up with LIBVIRT_DISCONNECTED when nothing comes back', async () => {
    daemon.fake.handler = () => 'hold';
    const conn = await daemon.connect({ keepalive: { intervalMs: 20, count: 2 } });
    const pending = conn.lookupByName('x');
    const err = await pending.then(() => undefined, (e: unknown) => e);
    expect(isStorageError(err, 'LIBVIRT_DISCONNECTED')).to.equal(true);
    expect(conn.keepaliveStats.pingsSent).to.equal(2);
    // The client gave up after its second ping; the daemon reads it in its own turn of the event loop.
    const pings = () => daemon.fake.received.filter((c) => c.header.procedure === KeepaliveProc.PING && c.header.program === Program.KEEPALIVE);
    await until(() => pings().length >= 2);
    expect(pings()).to.have.length(2);
  });

  it('fails every pending and every later call with LIBVIRT_DISCONNECTED when the daemon goes away', async () => {
    daemon.fake.handler = () => 'hold';
    const conn = await daemon.connect({ keepalive: false });
    let notified = 0;
    conn.onDisconnect(() => notified++);
    const pending = Array.from({ length: 20 }, (_, i) => conn.lookupByName(`d${i}`).then(() => undefined, (e: unknown) => e));
    await until(() => daemon.fake.received.length >= 23);
    daemon.fake.dropClients();
    for (const err of await Promise.all(pending)) expect(isStorageError(err, 'LIBVIRT_DISCONNECTED')).to.equal(true);
    const later = await conn.getVersion().then(() => undefined, (e: unknown) => e);
    expect(isStorageError(later, 'LIBVIRT_DISCONNECTED')).to.equal(true);
    expect(notified).to.equal(1);
    expect(conn.connected).to.equal(false);
  });

  it('delivers typed block-job events and rejects waiters when the connection drops', async () => {
    const conn = await daemon.connect();
    const waiting = conn.events.waitFor((e) => e.kind === 'blockJob' && e.status === BlockJobStatus.READY, 30_000);
    daemon.fake.push(Program.REMOTE, RemoteProc.DOMAIN_EVENT_BLOCK_JOB_2,
      Buffer.from(new XdrWriter().int(5).fixedOpaque(domainBody(), domainBody().length).string('vdb').int(BlockJobType.ACTIVE_COMMIT).int(BlockJobStatus.READY).toBuffer()));
    expect(await waiting).to.deep.equal({ kind: 'blockJob', callbackId: 5, domain: dom, disk: 'vdb', type: 4, status: 3 });
    const never = conn.events.waitFor(() => false, 60_000).then(() => undefined, (e: unknown) => e);
    daemon.fake.dropClients();
    expect(isStorageError(await never, 'LIBVIRT_DISCONNECTED')).to.equal(true);
  });

  it('close() says CONNECT_CLOSE and is idempotent', async () => {
    const conn = await daemon.connect();
    await Promise.all([conn.close(), conn.close()]);
    expect(daemon.fake.received.filter((c) => c.header.procedure === RemoteProc.CONNECT_CLOSE)).to.have.length(1);
    expect(conn.connected).to.equal(false);
  });

  it('reports an unreachable socket as LIBVIRT_DISCONNECTED', async () => {
    const err = await LibvirtConnection.connect({ socketPath: `${daemon.fake.socketPath}.missing` }).then(() => undefined, (e: unknown) => e);
    expect(isStorageError(err, 'LIBVIRT_DISCONNECTED')).to.equal(true);
  });
});
