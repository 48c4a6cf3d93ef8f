/** Wire encoding of the saved-state procedures against the scripted daemon. */
import { expect } from 'chai';
import { isStorageError } from '../../../../../lib/core/errors.js';
import { DomainJobType, SaveRestoreFlags } from '../../../../../lib/libvirt/index.js';
import { RemoteProc } from '../../../../../lib/libvirt/protocol.js';
import { XdrReader, XdrWriter } from '../../../../../lib/libvirt/xdr.js';
import { SCRIPTED_DOMAIN, scriptedDaemonHooks, type ReceivedCall } from '../../../../fixtures/libvirt/fake-libvirtd.js';

const dom = SCRIPTED_DOMAIN;

describe('libvirt saved-state procedures against a scripted daemon', () => {
  const daemon = scriptedDaemonHooks();
  const last = () => daemon.fake.received.at(-1) as ReceivedCall;

  it('encodes DOMAIN_RESTORE_FLAGS (233) as file, optional XML, flags', async () => {
    const conn = await daemon.connect();
    await conn.restoreFlags('/share/c1.mem', '<domain/>', SaveRestoreFlags.RUNNING);
    expect(last().header.procedure).to.equal(233);
    let r = new XdrReader(last().body);
    expect([r.string(), r.optional((x) => x.string()), r.uint()]).to.deep.equal(['/share/c1.mem', '<domain/>', 2]);
    r.end('restore args');

    await conn.restoreFlags('/share/c1.mem', null);
    r = new XdrReader(last().body);
    expect([r.string(), r.optional((x) => x.string()), r.uint()]).to.deep.equal(['/share/c1.mem', null, 0]);
    r.end('restore args');
  });

  it('encodes DOMAIN_SAVE_IMAGE_GET_XML_DESC (235) and returns the XML string', async () => {
    daemon.fake.handler = () => Buffer.from(new XdrWriter().string('<domain type="kvm"/>').toBuffer());
    const conn = await daemon.connect();
    expect(await conn.saveImageGetXmlDesc('/share/c1.mem', 1)).to.equal('<domain type="kvm"/>');
    expect(last().header.procedure).to.equal(RemoteProc.DOMAIN_SAVE_IMAGE_GET_XML_DESC).and.to.equal(235);
    const r = new XdrReader(last().body);
    expect([r.string(), r.uint()]).to.deep.equal(['/share/c1.mem', 1]);
    r.end('save image args');
  });

  it('decodes DOMAIN_GET_JOB_INFO (163): type then eleven exact 64-bit counters in order', async () => {
    const big = (1n << 60n) + 7n;
    daemon.fake.handler = () => {
      const w = new XdrWriter().int(DomainJobType.UNBOUNDED);
      for (let i = 1n; i <= 11n; i++) w.uhyper(i === 8n ? big : i);
      return Buffer.from(w.toBuffer());
    };
    const conn = await daemon.connect();
    const info = await conn.getJobInfo(dom);
    expect(info).to.deep.equal({
      type: DomainJobType.UNBOUNDED, timeElapsed: 1n, timeRemaining: 2n, dataTotal: 3n, dataProcessed: 4n, dataRemaining: 5n,
      memTotal: 6n, memProcessed: 7n, memRemaining: big, fileTotal: 9n, fileProcessed: 10n, fileRemaining: 11n,
    });
    expect(last().header.procedure).to.equal(163);
  });

  it('refuses a job-info reply with a missing counter as a protocol error', async () => {
    daemon.fake.handler = () => Buffer.from(new XdrWriter().int(0).uhyper(1n).toBuffer());
    const conn = await daemon.connect();
    const err = await conn.getJobInfo(dom).then(() => null, (e: unknown) => e);
    expect(isStorageError(err, 'LIBVIRT_PROTOCOL_ERROR'), String(err)).to.equal(true);
  });

  it('sends suspend (34) and resume (28) with the domain', async () => {
    const conn = await daemon.connect();
    await conn.suspend(dom);
    expect(last().header.procedure).to.equal(34);
    await conn.resume(dom);
    expect(last().header.procedure).to.equal(28);
    const r = new XdrReader(last().body);
    expect([r.string(), r.fixedOpaque(16).toString('hex'), r.int()]).to.deep.equal(['g1', dom.uuid.replaceAll('-', ''), 3]);
  });
});
