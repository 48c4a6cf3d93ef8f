/**
 * No path ends an operation silently: only endOperation (src/api/operation-end.ts) writes an
 * operation's final state, and it audits every end. A call of the operations repository's
 * writers with a `state` anywhere else fails here.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';

const SRC = path.resolve('src');
const WRITERS = /operations\.(update|updateRunning|updateBeforeCommitPoint)\(([^;]*)/g;

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...await sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('layout: every operation ends through endOperation (audited)', () => {
  it('no other file writes an operation\'s state', async () => {
    const offenders: string[] = [];
    for (const file of await sources(SRC)) {
      if (file.endsWith(path.join('api', 'operation-end.ts'))) continue;
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(WRITERS)) {
        if (/\bstate\b/.test(m[2] ?? '')) offenders.push(`${path.relative(SRC, file)}: ${m[0].slice(0, 120)}`);
      }
    }
    expect(offenders).to.deep.equal([]);
  });

  it('the check sees a writer with a state (it can fail)', () => {
    const sample = "await deps.repos.operations.updateRunning(op.id, { state: 'failed' }, t);";
    expect([...sample.matchAll(WRITERS)].some((m) => /\bstate\b/.test(m[2] ?? ''))).to.equal(true);
  });
});
