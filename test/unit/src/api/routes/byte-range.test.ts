/**
 * The Range header of an export download (RFC 9110 §14): one range served, anything the RFC says
 * to ignore (a malformed or inverted range, several ranges, another unit, a stale If-Range)
 * answered with the whole body, a suffix longer than the body served whole as 206, and only a
 * range that starts past the end or a zero suffix unsatisfiable.
 */
import { expect } from 'chai';
import { rangeOf } from '../../../../../src/api/routes/byte-range.js';

const E = '"etag"';
const whole = { kind: 'whole' };
const none = { kind: 'unsatisfiable' };
const part = (start: number, end: number) => ({ kind: 'part', start, end });

describe('export download: the Range header (unit)', () => {
  it('serves one range, clipped to the body', () => {
    expect(rangeOf('bytes=0-9', undefined, 100, E)).to.deep.equal(part(0, 9));
    expect(rangeOf('bytes=10-', undefined, 100, E)).to.deep.equal(part(10, 99));
    expect(rangeOf('bytes=90-200', undefined, 100, E)).to.deep.equal(part(90, 99));
    expect(rangeOf('bytes=0-99999999999999999999999', undefined, 100, E)).to.deep.equal(part(0, 99));
    expect(rangeOf('Bytes = 5-5', undefined, 100, E)).to.deep.equal(part(5, 5));
    expect(rangeOf('bytes=0-1', E, 100, E)).to.deep.equal(part(0, 1));
  });

  it('a suffix is the last bytes; one longer than the body is the whole body as a range', () => {
    expect(rangeOf('bytes=-5', undefined, 100, E)).to.deep.equal(part(95, 99));
    expect(rangeOf('bytes=-100', undefined, 100, E)).to.deep.equal(part(0, 99));
    expect(rangeOf('bytes=-99999999999', undefined, 100, E)).to.deep.equal(part(0, 99));
  });

  it('ignores what the RFC says to ignore: malformed, inverted, several, another unit, a stale If-Range', () => {
    for (const h of ['bytes=5-1', 'bytes=abc', 'bytes=0--1', 'bytes=--5', 'bytes=-', 'bytes=', 'bytes=0-1,', 'bytes=0-0,5-9', 'bytes=1.5-2', 'bytes=0x10-',
      'bytes=+1-2', 'bytes=-1-2', 'items=0-5', 'bytes 0-5', '', '=0-5', 'bytes=\u00b9-2']) {
      expect(rangeOf(h, undefined, 100, E), JSON.stringify(h)).to.deep.equal(whole);
    }
    expect(rangeOf('bytes=0-1', '"other"', 100, E)).to.deep.equal(whole);
    expect(rangeOf(undefined, undefined, 100, E)).to.deep.equal(whole);
  });

  it('a range past the end and a zero suffix are unsatisfiable', () => {
    for (const h of ['bytes=100-', 'bytes=100-200', 'bytes=99999999999999999999-', `bytes=${'9'.repeat(400)}-`, 'bytes=-0']) {
      expect(rangeOf(h, undefined, 100, E), h).to.deep.equal(none);
    }
    expect(rangeOf('bytes=-5', undefined, 0, E)).to.deep.equal(none);
  });
});
