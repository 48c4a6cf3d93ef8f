import { expect } from 'chai';
import type { ApiClient } from '../../../../src/cli/client.js';
import { watchOperation } from '../../../../src/cli/commands/output.js';
import { duration, finalLine, phaseLine, rate, runningLine, tick, type OperationView, type PhaseView } from '../../../../src/cli/operation-progress.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const INTO = 'volume-v.s1';

function op(state: string, progress: number, phase: Partial<PhaseView> | null, extra: Partial<OperationView> = {}): OperationView {
  return {
    kind: 'delete_snapshot', state, progress, error: null, ...extra,
    phase: phase === null ? null : { name: 'commit', measured: true, direction: 'commit', into: INTO, bytes_total: GiB, bytes_done: 0, ...phase },
  };
}

describe('cli operation progress (pure)', () => {
  it('rate and ETA come from the bytes moved since the phase was first seen', () => {
    let clock = tick(null, op('running', 25, { bytes_done: GiB / 4 }), 10_000);
    expect(clock).to.deep.equal({ phase: `commit ${INTO}`, since: 10_000, bytesAtStart: GiB / 4 });
    expect(rate(clock, GiB / 4, 10_000)).to.equal(null); // no time, no bytes yet: no rate, not a division by zero
    clock = tick(clock, op('running', 50, { bytes_done: GiB / 2 }), 14_000);
    expect(clock.since).to.equal(10_000); // same phase: the clock is kept
    expect(rate(clock, GiB / 2, 14_000)).to.equal(64 * MiB);
    // 512 MiB left at 64 MiB/s: 8 s.
    expect(runningLine(op('running', 50, { bytes_done: GiB / 2 }), clock, 14_000))
      .to.equal(`delete_snapshot: commit into ${INTO} [###############...............]  50% 512.0 MiB / 1.0 GiB  64.0 MiB/s  ETA 0:08`);
    // A new phase restarts the clock.
    expect(tick(clock, op('running', 0, { name: 'finish', measured: false, bytes_done: GiB }), 15_000)).to.deep.equal({ phase: `finish ${INTO}`, since: 15_000, bytesAtStart: GiB });
    // Another merge of the same kind (a hidden snapshot collected next): a new clock.
    expect(tick(clock, op('running', 5, { into: 'volume-v.s2', bytes_done: 0 }), 16_000).since).to.equal(16_000);
  });

  it('before any byte moved: rate and ETA unknown', () => {
    const clock = tick(null, op('running', 0, {}), 0);
    expect(runningLine(op('running', 0, {}), clock, 2000)).to.match(/ 0% 0 B \/ 1\.0 GiB {2}--\/s {2}ETA --:--$/);
  });

  it('durations: m:ss, h:mm:ss past an hour, unknown as --:--', () => {
    expect(duration(0)).to.equal('0:00');
    expect(duration(65.4)).to.equal('1:05');
    expect(duration(3 * 3600 + 7)).to.equal('3:00:07');
    expect(duration(Infinity)).to.equal('--:--');
    expect(duration(Number.NaN)).to.equal('--:--');
  });

  it('a running operation never shows 100%: an unmeasured or finished step is shown by its name', () => {
    const clock = tick(null, op('running', 100, {}), 0);
    const lines = [
      runningLine(op('running', 100, {}), clock, 1000),
      runningLine(op('running', 100, { name: 'finish', measured: false, bytes_done: GiB }), clock, 1000),
      runningLine(op('running', 0, { name: 'pull', measured: false, direction: 'pull', bytes_done: null }), clock, 1000),
      runningLine(op('running', 100, null), clock, 1000),
      runningLine({ kind: 'extend', state: 'running', progress: 100 }, clock, 1000),
    ];
    for (const l of lines) expect(l).to.not.include('100%');
    expect(lines).to.deep.equal([
      `delete_snapshot: commit into ${INTO}, 1.0 GiB (copied, finishing)`,
      `delete_snapshot: finish (commit into ${INTO}, 1.0 GiB copied)`,
      `delete_snapshot: pull into ${INTO}, 1.0 GiB (not measured)`,
      'delete_snapshot: finishing',
      'extend: finishing',
    ]);
    expect(runningLine({ kind: 'extend', state: 'running', progress: 40 }, clock, 1000)).to.equal('extend [############..................]  40%');
  });

  it('one line per phase for a non-terminal; the end state with bytes, time and rate, or the error', () => {
    expect(phaseLine(op('running', 3, {}))).to.equal(`delete_snapshot: commit into ${INTO}, 1.0 GiB`);
    expect(phaseLine(op('running', 100, { name: 'finish', measured: false }))).to.equal(`delete_snapshot: finish (commit into ${INTO}, 1.0 GiB copied)`);
    const times = { started_at: '2026-12-07T03:00:00.000Z', finished_at: '2026-12-07T03:00:16.000Z' };
    expect(finalLine(op('succeeded', 100, { name: 'finish', measured: false, bytes_done: GiB }, times)))
      .to.equal(`delete_snapshot [##############################] 100% succeeded: commit into ${INTO}, 1.0 GiB in 0:16 (64.0 MiB/s)`);
    expect(finalLine({ kind: 'extend', state: 'succeeded', progress: 100, ...times })).to.equal('extend [##############################] 100% succeeded in 0:16');
    expect(finalLine(op('failed', 40, {}, { error: 'SHARE_FULL: no space' }))).to.equal(`delete_snapshot failed during commit into ${INTO}: SHARE_FULL: no space`);
    expect(finalLine({ kind: 'extend', state: 'failed', progress: 0, error: 'X: y' })).to.equal('extend failed at 0%: X: y');
  });
});

describe('cli operation watch (scripted operation answers)', () => {
  const answers = (ops: OperationView[]): ApiClient => {
    let i = 0;
    return { call: () => Promise.resolve({ status: 200, headers: new Headers(), body: { operation: ops[Math.min(i++, ops.length - 1)] } }) } as unknown as ApiClient;
  };
  const times = { started_at: '2026-12-07T03:00:00.000Z', finished_at: '2026-12-07T03:00:02.000Z' };
  const script = [
    op('running', 0, { bytes_done: 0 }), op('running', 50, { bytes_done: GiB / 2 }), op('running', 100, { bytes_done: GiB }),
    op('running', 100, { name: 'finish', measured: false, bytes_done: GiB }), op('running', 100, { name: 'finish', measured: false, bytes_done: GiB }),
    op('succeeded', 100, { name: 'finish', measured: false, bytes_done: GiB }, times),
  ];

  it('on a terminal: redraws one line, clears it at the end, and prints the end state once', async () => {
    const err: string[] = [];
    const out: string[] = [];
    await watchOperation(answers(script), { json: false, write: (t) => out.push(t) }, 'op', 0, { isTTY: true, write: (t) => err.push(t) });
    expect(err).to.have.length(6); // five redraws, one clear
    for (const e of err) expect(e.startsWith('\r\x1b[K')).to.equal(true);
    expect(err[err.length - 1]).to.equal('\r\x1b[K');
    expect(err.join('')).to.not.include('100%').and.not.include('\n');
    expect(out).to.deep.equal([`delete_snapshot [##############################] 100% succeeded: commit into ${INTO}, 1.0 GiB in 0:02 (512.0 MiB/s)`]);
  });

  it('not on a terminal: one line per phase, then the end state once', async () => {
    const err: string[] = [];
    const out: string[] = [];
    await watchOperation(answers(script), { json: false, write: (t) => out.push(t) }, 'op', 0, { isTTY: false, write: (t) => err.push(t) });
    expect(err).to.deep.equal([`delete_snapshot: commit into ${INTO}, 1.0 GiB\n`, `delete_snapshot: finish (commit into ${INTO}, 1.0 GiB copied)\n`]);
    expect(out).to.have.length(1);
  });

  it('--json: no progress, the operation once', async () => {
    const err: string[] = [];
    const out: string[] = [];
    await watchOperation(answers(script), { json: true, write: (t) => out.push(t) }, 'op', 0, { isTTY: true, write: (t) => err.push(t) });
    expect(err).to.deep.equal([]);
    expect(out.map((t) => (JSON.parse(t) as { operation: { state: string } }).operation.state)).to.deep.equal(['succeeded']);
  });
});
