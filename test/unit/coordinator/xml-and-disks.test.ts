import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { chainNames, diskBySerial, parseDomainXml } from '../../../coordinator/domain/disks.js';
import { fileBacked } from '../../../coordinator/domain/file-backed.js';
import { decodeEntities, escapeXml, parseXml } from '../../../lib/libvirt/xml.js';
import { isStorageError } from '../../../lib/core/errors.js';
import { domainXml } from '../../fixtures/coordinator/fake-libvirt.js';
import { DIR, DOM, VOL, f, S1, S2 } from '../../fixtures/coordinator/context.js';

describe('coordinator: XML reader', () => {
  it('reads elements, attributes in both quote styles, text and entities', () => {
    const el = parseXml(`<?xml version="1.0"?><!-- c --><a x='1' y="&lt;2&gt;"><b>t &amp; u&#65;&#x42;</b><c/></a>`);
    expect(el.name).to.equal('a');
    expect(el.attrs).to.deep.equal({ x: '1', y: '<2>' });
    expect(el.children.map((c) => c.name)).to.deep.equal(['b', 'c']);
    expect(el.children[0]?.text).to.equal('t & uAB');
  });

  it('refuses malformed documents instead of guessing', () => {
    for (const bad of ['<a><b></a>', '<a>', '<a></a><b></b>', '<a x=1></a>', 'text only']) {
      expect(() => parseXml(bad), bad).to.throw();
    }
  });

  it('escapes what it writes and decodes it back', () => {
    const s = `a<b>&"c'`;
    expect(decodeEntities(escapeXml(s))).to.equal(s);
    expect(escapeXml(s)).to.not.match(/[<>"']/);
  });
});

describe('coordinator: live domain disks', () => {
  it('parses a domain XML captured from libvirt 9.0 (chain, formats, serials, mirror)', () => {
    const dom = parseDomainXml(readFileSync(new URL('../../fixtures/coordinator/libvirt-9.0-active-commit.xml', import.meta.url), 'utf8'));
    const vdb = dom.disks.find((d) => d.target === 'vdb');
    expect(vdb).to.not.equal(undefined);
    expect(vdb?.serial).to.match(/^[0-9a-f-]{36}$/);
    expect(vdb?.chain.length).to.be.greaterThan(1);
    expect(vdb?.chain.every((l) => l.format === 'qcow2')).to.equal(true);
    expect(vdb?.mirror?.job).to.equal('active-commit');
    expect(vdb?.mirror?.ready).to.equal('yes');
  });

  it('walks the backing chain top first and stops at the empty backingStore', () => {
    const xml = domainXml(DOM, 'g', [{ target: 'vdb', serial: VOL, dir: DIR, chain: [f(S2), f(S1), f()] }]);
    const dom = parseDomainXml(xml);
    expect(dom.uuid).to.equal(DOM);
    const d = diskBySerial(dom, VOL);
    expect(chainNames(d)).to.deep.equal([f(S2), f(S1), f()]);
    expect(d.chain[1]?.path).to.equal(`${DIR}/${f(S1)}`);
    expect(d.mirror).to.equal(null);
  });

  it('finds no disk for an unknown serial (NOT_FOUND)', () => {
    const dom = parseDomainXml(domainXml(DOM, 'g', [{ target: 'vdb', serial: VOL, dir: DIR, chain: [f()] }]));
    try {
      diskBySerial(dom, S1);
      expect.fail('found a disk');
    } catch (err) {
      expect(isStorageError(err, 'NOT_FOUND')).to.equal(true);
    }
  });

  it('tells file-backed volumes from the rest, with a reason', () => {
    const dom = parseDomainXml(domainXml(DOM, 'g', [
      { target: 'vdb', serial: VOL, dir: DIR, chain: [f(S1), f()] },
      { target: 'vdc', serial: VOL, dir: DIR, chain: [f()], type: 'network' },
      { target: 'vdd', serial: VOL, dir: DIR, chain: [f()], format: 'raw' },
      { target: 'vde', serial: VOL, dir: DIR, chain: [f(S1), 'other-file'] },
    ]));
    const [ok, net, raw, foreign] = dom.disks.map((d) => fileBacked(d, VOL));
    expect(ok).to.deep.equal({ ok: true, dir: DIR });
    expect(net?.ok === false && net.reason).to.match(/network/);
    expect(raw?.ok === false && raw.reason).to.match(/raw/);
    expect(foreign?.ok === false && foreign.reason).to.match(/other-file/);
  });
});
