/**
 * The recovery table (src/api/recovery.ts): one entry point runs the passes of a phase in order,
 * a failing pass does not stop the others (a required one stops the start), and no module that
 * takes the recovery lease is left out of the table (a pass nobody runs is a status that sticks).
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RECOVERY_PASSES, runRecovery, type RecoveryPass, type RecoveryPhase } from '../../../../src/api/recovery.js';
import type { ServiceDeps } from '../../../../src/api/context.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function fakeDeps(): { deps: ServiceDeps; warnings: unknown[] } {
  const warnings: unknown[] = [];
  const log = { warn: (o: unknown) => warnings.push(o), info: () => undefined, error: () => undefined, debug: () => undefined };
  return { deps: { log } as unknown as ServiceDeps, warnings };
}

describe('recovery passes: one table, one entry point', () => {
  it('names each pass once and gives each at least one phase', () => {
    const names = RECOVERY_PASSES.map((p) => p.name);
    expect(new Set(names).size).to.equal(names.length);
    for (const p of RECOVERY_PASSES) expect(p.phases.length, p.name).to.be.greaterThan(0);
  });

  it('runs the passes of a phase in the table\'s order, and only those', async () => {
    const ran: string[] = [];
    const pass = (name: string, phases: RecoveryPhase[]): RecoveryPass => ({ name, settles: name, phases, run: async (_d, phase) => { ran.push(`${name}:${phase}`); } });
    const table = [pass('a', ['start', 'sweep']), pass('b', ['sweep']), pass('c', ['start']), pass('d', ['listening'])];
    await runRecovery(fakeDeps().deps, 'start', table);
    await runRecovery(fakeDeps().deps, 'sweep', table);
    await runRecovery(fakeDeps().deps, 'listening', table);
    expect(ran).to.deep.equal(['a:start', 'c:start', 'a:sweep', 'b:sweep', 'd:listening']);
  });

  it('logs a failing pass with its name and goes on; a required pass that fails at start stops the start', async () => {
    const ran: string[] = [];
    const table: RecoveryPass[] = [
      { name: 'breaks', settles: 'x', phases: ['start', 'sweep'], run: async () => { throw new Error('share gone'); } },
      { name: 'after', settles: 'y', phases: ['start', 'sweep'], run: async () => { ran.push('after'); } },
    ];
    const { deps, warnings } = fakeDeps();
    await runRecovery(deps, 'sweep', table);
    expect(ran).to.deep.equal(['after']);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.include({ pass: 'breaks', phase: 'sweep' });
    const required = [{ ...table[0] as RecoveryPass, required: true }, table[1] as RecoveryPass];
    let thrown: unknown;
    try { await runRecovery(deps, 'start', required); } catch (err) { thrown = err; }
    expect((thrown as Error | undefined)?.message).to.equal('share gone');
    await runRecovery(deps, 'sweep', required); // a sweep logs it and goes on
    expect(ran).to.deep.equal(['after', 'after']);
  });

  it('has every module that takes the recovery lease in its table', () => {
    const table = readFileSync(path.join(ROOT, 'src/api/recovery.ts'), 'utf8');
    const takers = sources(path.join(ROOT, 'src'))
      .filter((f) => !f.endsWith(path.join('src', 'api', 'recovery.ts')) && !f.endsWith('operation-runner.ts'))
      .filter((f) => /\b(underRecoveryLease|recoveryLeaseHolder)\b/.test(readFileSync(f, 'utf8')));
    expect(takers, 'the scan found the passes').to.have.length.greaterThan(4);
    for (const f of takers) {
      const spec = `./${path.relative(path.join(ROOT, 'src/api'), f).replace(/\.ts$/, '.js')}`;
      expect(table, `${path.relative(ROOT, f)} takes the recovery lease but is not run by src/api/recovery.ts`).to.include(`from '${spec}'`);
    }
  });
});
