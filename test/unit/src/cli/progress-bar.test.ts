import { expect } from 'chai';
import { humanBytes, progressBar, progressLine, summaryLine } from '../../../../src/cli/progress-bar.js';

const MiB = 1024 * 1024;

describe('cli transfer progress', () => {
  it('shows bytes, percentage, rate and ETA', () => {
    expect(progressLine(512 * MiB, 1024 * MiB, 2000)).to.equal('50% 512.0 MiB / 1.0 GiB  256.0 MiB/s  ETA 0:02');
    expect(progressLine(3 * 1024, null, 1000)).to.equal('3.0 KiB  3.0 KiB/s  ETA --:--');
    expect(progressLine(0, 1000, 0)).to.equal('0% 0 B / 1000 B  0 B/s  ETA --:--');
    expect(humanBytes(5)).to.equal('5 B');
    expect(summaryLine('exported', 96 * MiB, 3000)).to.equal('exported 96.0 MiB in 0:03 (32.0 MiB/s)');
  });

  it('on a terminal: redraws at most every 200 ms, each redraw erasing the line, then the summary once', () => {
    let now = 0;
    const out: string[] = [];
    const bar = progressBar((s) => out.push(s), 1000, { tty: true, label: 'exported', now: () => now });
    now = 250; bar.update(100);
    now = 300; bar.update(200);
    now = 500; bar.update(600);
    now = 1000; bar.done(1000);
    expect(out).to.deep.equal(['\r\x1b[K10% 100 B / 1000 B  400 B/s  ETA 0:02', '\r\x1b[K60% 600 B / 1000 B  1.2 KiB/s  ETA 0:00', '\r\x1b[Kexported 1000 B in 0:01 (1000 B/s)\n']);
  });

  it('an upload all sent while the service still works says so, not 100%, and is not redrawn after', () => {
    let now = 0;
    const out: string[] = [];
    const bar = progressBar((s) => out.push(s), 1000, { tty: true, label: 'imported', afterSent: 'the service checks and writes the volume', now: () => now });
    now = 300; bar.update(1000);
    now = 900; bar.update(1000);
    now = 4000; bar.done(1000);
    expect(out).to.deep.equal(['\r\x1b[K1000 B sent; the service checks and writes the volume', '\r\x1b[Kimported 1000 B in 0:04 (250 B/s)\n']);
    expect(out.join('')).to.not.include('%');
  });

  it('not on a terminal: the summary alone; a failure erases a drawn line and prints nothing', () => {
    const out: string[] = [];
    const plain = progressBar((s) => out.push(s), 1000, { tty: false, label: 'exported', now: () => 2000 });
    plain.update(500);
    plain.done(1000);
    expect(out).to.deep.equal(['exported 1000 B in 0:00\n']);
    const failed: string[] = [];
    let now = 0;
    const bar = progressBar((s) => failed.push(s), 1000, { tty: true, label: 'imported', now: () => now });
    now = 300; bar.update(10);
    bar.cancel();
    expect(failed).to.deep.equal(['\r\x1b[K1% 10 B / 1000 B  33 B/s  ETA 0:30', '\r\x1b[K']);
  });
});
