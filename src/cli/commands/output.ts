import type { ApiClient } from '../client.js';
import { finalLine, phaseLine, runningLine, tick, type OperationView, type PhaseClock } from '../operation-progress.js';

export interface Output {
  json: boolean;
  write(text: string): void;
}

export function print(out: Output, body: unknown, human: () => string): void {
  out.write(out.json ? JSON.stringify(body, null, 2) : human());
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where the progress goes (stderr: stdout carries the result) and whether it is a terminal. */
export interface ProgressSink {
  isTTY: boolean;
  write(text: string): void;
}

const stderrSink = (): ProgressSink => ({ isTTY: process.stderr.isTTY === true, write: (t) => process.stderr.write(t) });

/**
 * Poll an operation until it ends. On a terminal one progress line is redrawn and cleared at the
 * end; elsewhere each phase gets one line as it starts. Then the end state, once, on stdout
 * (--json: the operation; no progress at all).
 */
export async function watchOperation(client: ApiClient, out: Output, id: string, intervalMs = 500, sink: ProgressSink = stderrSink()): Promise<Record<string, unknown>> {
  let clock: PhaseClock | null = null;
  let drawn = false;
  let lastPhase: string | undefined;
  for (;;) {
    const { body } = await client.call<{ operation: Record<string, unknown> }>('GET', `/v3/operations/${id}`);
    const op = body.operation as unknown as OperationView;
    if (op.state !== 'running') {
      if (drawn) sink.write(CLEAR_LINE);
      print(out, body, () => finalLine(op));
      return body.operation;
    }
    if (!out.json) {
      clock = tick(clock, op, Date.now());
      if (sink.isTTY) {
        sink.write(`${CLEAR_LINE}${runningLine(op, clock, Date.now())}`);
        drawn = true;
      } else if (clock.phase !== null && clock.phase !== lastPhase) {
        lastPhase = clock.phase;
        sink.write(`${phaseLine(op)}\n`);
      }
    }
    await sleep(intervalMs);
  }
}

/** Back to the line's start and erase it: a shorter line leaves nothing of a longer one. */
const CLEAR_LINE = '\r\x1b[K';
