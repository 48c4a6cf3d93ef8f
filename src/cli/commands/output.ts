import type { ApiClient } from '../client.js';
import { progressBar } from '../render.js';

export interface Output {
  json: boolean;
  write(text: string): void;
}

export function print(out: Output, body: unknown, human: () => string): void {
  out.write(out.json ? JSON.stringify(body, null, 2) : human());
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll an operation until it ends, drawing a progress bar (human) or printing the end state (JSON). */
export async function watchOperation(client: ApiClient, out: Output, id: string, intervalMs = 500): Promise<Record<string, unknown>> {
  for (;;) {
    const { body } = await client.call<{ operation: Record<string, unknown> }>('GET', `/v3/operations/${id}`);
    const op = body.operation;
    if (!out.json && process.stderr.isTTY) process.stderr.write(`\r${String(op.kind)} ${progressBar(Number(op.progress))} ${String(op.state)}`);
    if (op.state !== 'running') {
      if (!out.json && process.stderr.isTTY) process.stderr.write('\n');
      print(out, body, () => `${String(op.kind)} ${progressBar(Number(op.progress))} ${String(op.state)}${op.error ? `: ${String(op.error)}` : ''}`);
      return op;
    }
    await sleep(intervalMs);
  }
}
