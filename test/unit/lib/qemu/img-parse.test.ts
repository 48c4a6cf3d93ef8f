import { expect } from 'chai';
import { codeOf } from '../../../fixtures/code-of.js';
import { parseInfo } from '../../../../lib/qemu/img-info.js';
import { parseCheck } from '../../../../lib/qemu/img-check.js';
import { allocatedInTop, parseMap } from '../../../../lib/qemu/img-map.js';
import { createArgs } from '../../../../lib/qemu/img-create.js';
import { convertArgs } from '../../../../lib/qemu/img-convert.js';
import { progressParser } from '../../../../lib/qemu/progress.js';
import { assertBareName } from '../../../../lib/qemu/bare-name.js';

const INFO = {
  'backing-filename-format': 'qcow2', 'virtual-size': 10485760, filename: 'ov', 'cluster-size': 65536,
  format: 'qcow2', 'actual-size': 331776, 'backing-filename': 'volume-a',
  'format-specific': { type: 'qcow2', data: { compat: '1.1', corrupt: false, 'data-file': 'x' } }, 'dirty-flag': false,
};

describe('qemu parsers', () => {
  it('parseInfo reads the fields it types', () => {
    expect(parseInfo(JSON.stringify(INFO), 'qcow2')).to.deep.equal({
      format: 'qcow2', virtualSize: 10485760, actualSize: 331776, backingFile: 'volume-a', backingFormat: 'qcow2',
      dirty: false, clusterSize: 65536, dataFile: 'x', corrupt: false,
    });
  });

  it('parseInfo refuses wrong types, fractional or unsafe sizes, non-JSON and the wrong format', () => {
    const bad = (patch: Record<string, unknown>) => codeOf(() => parseInfo(JSON.stringify({ ...INFO, ...patch }), 'qcow2'));
    expect(bad({ 'virtual-size': '10' })).to.equal('IMAGE_CORRUPT');
    expect(bad({ 'virtual-size': 1.5 })).to.equal('IMAGE_CORRUPT');
    expect(bad({ 'virtual-size': 2 ** 60 })).to.equal('IMAGE_CORRUPT');
    expect(bad({ 'virtual-size': -1 })).to.equal('IMAGE_CORRUPT');
    expect(bad({ 'backing-filename': 7 })).to.equal('IMAGE_CORRUPT');
    expect(bad({ 'format-specific': { data: { 'data-file': {} } } })).to.equal('IMAGE_CORRUPT');
    expect(bad({ 'format-specific': [] })).to.equal('IMAGE_CORRUPT');
    expect(bad({ format: 'vmdk' })).to.equal('IMAGE_FORMAT_MISMATCH');
    expect(codeOf(() => parseInfo('{"format":', 'qcow2'))).to.equal('IMAGE_CORRUPT');
    expect(codeOf(() => parseInfo('[]', 'qcow2'))).to.equal('IMAGE_CORRUPT');
  });

  it('parseCheck and parseMap check field types', () => {
    expect(parseCheck('{"check-errors":0,"leaks":2,"image-end-offset":5}')).to.include({ errors: 0, leaks: 2, corruptions: 0, imageEndOffset: 5 });
    expect(codeOf(() => parseCheck('{"check-errors":"0"}'))).to.equal('IMAGE_CORRUPT');
    const map = parseMap('[{"start":0,"length":4096,"depth":0,"zero":false,"data":true,"offset":327680},' +
      '{"start":4096,"length":8192,"depth":1,"zero":false,"data":true},{"start":12288,"length":100,"depth":0,"zero":true,"data":false}]');
    expect(map).to.have.length(3);
    expect(map[0]).to.deep.equal({ start: 0, length: 4096, depth: 0, zero: false, data: true, offset: 327680 });
    expect(allocatedInTop(map)).to.equal(4096);
    expect(codeOf(() => parseMap('[{"start":0,"length":1,"depth":0,"zero":"no","data":true}]'))).to.equal('IMAGE_CORRUPT');
    expect(codeOf(() => parseMap('{}'))).to.equal('IMAGE_CORRUPT');
  });
});

describe('qemu argument building', () => {
  it('create writes a bare backing name with its format and never probes', () => {
    const args = createArgs({ path: 'rel/volume-x.1', format: 'qcow2', backingFile: 'volume-x', backingFormat: 'raw' });
    expect(args.slice(0, 8)).to.deep.equal(['create', '-q', '-f', 'qcow2', '-b', 'volume-x', '-F', 'raw']);
    expect(args.at(-1)).to.match(/^\/.*\/rel\/volume-x\.1$/);
    expect(createArgs({ path: '/d/v', format: 'qcow2', sizeBytes: 1024, clusterSize: 4096, preallocation: 'metadata' }))
      .to.deep.equal(['create', '-q', '-f', 'qcow2', '-o', 'preallocation=metadata,cluster_size=4096', '/d/v', '1024']);
  });

  it('create refuses unsafe names, a missing backing format, bad sizes and options', () => {
    const c = (o: object) => codeOf(() => createArgs({ path: '/d/v', format: 'qcow2', ...o }));
    expect(c({ backingFile: '/etc/passwd', backingFormat: 'raw' })).to.equal('IMAGE_UNSAFE_BACKING');
    expect(c({ backingFile: '../volume-x', backingFormat: 'raw' })).to.equal('IMAGE_UNSAFE_BACKING');
    expect(c({ backingFile: 'json:{}', backingFormat: 'raw' })).to.equal('IMAGE_UNSAFE_BACKING');
    expect(c({ backingFile: 'volume-x' })).to.equal('INVALID_INPUT');
    expect(c({})).to.equal('INVALID_INPUT');
    expect(c({ sizeBytes: 0 })).to.equal('SIZE_OUT_OF_BOUNDS');
    expect(c({ sizeBytes: 1.5 })).to.equal('SIZE_OUT_OF_BOUNDS');
    expect(c({ sizeBytes: 1024, clusterSize: 3000 })).to.equal('INVALID_INPUT');
    expect(c({ sizeBytes: 1024, format: 'vmdk' })).to.equal('INVALID_INPUT');
  });

  it('convert reads with force-share and explicit formats', () => {
    expect(convertArgs({ src: '/d/a', srcFormat: 'qcow2', dst: '/d/b', dstFormat: 'raw', sparse: false }))
      .to.deep.equal(['convert', '-p', '-U', '-f', 'qcow2', '-O', 'raw', '-S', '0', '/d/a', '/d/b']);
  });

  it('bare names: only plain file names', () => {
    for (const n of ['', '.', '..', 'a/b', '/abs', 'nbd:host:10809', 'a\\b', 'x\0y', 'file:volume-x']) {
      expect(codeOf(() => assertBareName(n)), n).to.equal('IMAGE_UNSAFE_BACKING');
    }
    expect(codeOf(() => assertBareName('volume-1.2'))).to.equal(undefined);
  });
});

describe('progress parser', () => {
  it('emits each percentage once, across split chunks', () => {
    const seen: number[] = [];
    const feed = progressParser((p) => seen.push(p));
    feed('    (0.00/100%)\r    (12.3');
    feed('4/100%)\r    (12.34/100%)\r');
    feed('    (100.00/100%)\r\n');
    expect(seen).to.deep.equal([0, 12.34, 100]);
  });
});
