import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

describe('file lease manager across processes', () => {
  it('never lets two processes hold one volume lease at once', async function () {
    this.timeout(300_000);
    const dir = mkdtempSync(path.join(tmpdir(), 'qcs-lease-mp-'));
    const log = path.join(dir, 'log');
    writeFileSync(log, '');
    try {
      const workers = ['a', 'b', 'c'].map((name) =>
        new Promise<number>((resolve) => {
          const p = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/core/lease-worker.ts', path.join(dir, 'leases'), log, name, '20'], { stdio: 'inherit' });
          p.on('exit', (code) => resolve(code ?? -1));
        }));
      expect(await Promise.all(workers)).to.deep.equal([0, 0, 0]);
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      expect(lines).to.have.length(120);
      let holder: string | null = null;
      let lastToken = 0;
      for (const line of lines) {
        const [what, name, token] = line.split(' ') as [string, string, string];
        if (what === 'enter') {
          expect(holder, `interleaved: ${line}`).to.equal(null);
          expect(Number(token)).to.be.greaterThan(lastToken);
          lastToken = Number(token);
          holder = name;
        } else {
          expect(holder).to.equal(name);
          holder = null;
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
