import { expect } from 'chai';
import { humanBytes, progressBar, progressLine } from '../../../src/cli/progress-bar.js';

describe('cli progress bar', () => {
  it('shows bytes, percentage, rate and ETA', () => {
    expect(progressLine(512 * 1024 * 1024, 1024 * 1024 * 1024, 2000)).to.equal('50% 512.0 MiB / 1.0 GiB  256.0 MiB/s  ETA 0:02');
    expect(progressLine(3 * 1024, null, 1000)).to.equal('3.0 KiB  3.0 KiB/s  ETA --:--');
    expect(humanBytes(5)).to.equal('5 B');
  });
  it('redraws at most every 200 ms and ends the line when done', () => {
    let now = 0;
    const out: string[] = [];
    const bar = progressBar((s) => out.push(s), 1000, () => now);
    now = 250; bar.update(100);
    now = 300; bar.update(200);
    now = 500; bar.done(1000);
    expect(out).to.have.length(2);
    expect(out[1]).to.match(/^\r100% .*\n$/);
  });
});
