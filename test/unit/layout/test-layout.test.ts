/**
 * The test tree's layout (scripts/dev/mirror-tests.ts): inside test/unit and test/integration a
 * test sits at the mirror of the source folder it tests, every helper that is not a test sits
 * under test/fixtures, and test/e2e and test/security hold tests only. A file added at an old
 * place fails here; `npx tsx scripts/dev/mirror-tests.ts` moves it.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPlacedFixture, isPlacedTest, planMoves } from '../../../scripts/dev/mirror-tests.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function testFiles(): string[] {
  const list = (args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('test/'));
  return [...new Set([...list(['ls-files']), ...list(['ls-files', '--others', '--exclude-standard'])])].filter((f) => existsSync(path.join(ROOT, f)));
}

describe('layout: tests mirror the source tree, fixtures live in test/fixtures', () => {
  it('every test file sits at a mirrored place, every other file under test/fixtures (READMEs apart)', () => {
    const misplaced = testFiles().filter((f) => (f.endsWith('.test.ts') ? !isPlacedTest(f) : !isPlacedFixture(f) && path.posix.basename(f) !== 'README.md'));
    expect(misplaced, 'run: npx tsx scripts/dev/mirror-tests.ts').to.deep.equal([]);
  });

  it('the mirror script has nothing left to move', () => {
    const plan = planMoves(testFiles());
    expect({ moves: [...plan.moves], problems: plan.problems }).to.deep.equal({ moves: [], problems: [] });
  });

  it('the check sees a file at an old place, a helper beside tests and a test it cannot place (it can fail)', () => {
    expect(isPlacedTest('test/unit/core/not-yet-placed.test.ts')).to.equal(false);
    expect(isPlacedTest('test/unit/lib/core/not-yet-placed.test.ts')).to.equal(true);
    expect(isPlacedTest('test/unit/drivers/x.test.ts'), 'drivers/ holds only folders').to.equal(false);
    expect(isPlacedFixture('test/integration/src/api/harness.ts')).to.equal(false);
    const plan = planMoves(['test/unit/core/not-yet-placed.test.ts', 'test/integration/src/api/harness.ts', 'test/unit/nowhere-like-this/x.test.ts', 'test/stray.ts', 'lib/core/config.ts']);
    expect(plan.moves.get('test/unit/core/not-yet-placed.test.ts')).to.equal('test/unit/lib/core/not-yet-placed.test.ts');
    expect(plan.moves.get('test/integration/src/api/harness.ts')).to.equal('test/fixtures/src/api/harness.ts');
    expect(plan.problems.map((p) => p.split(':')[0])).to.deep.equal(['test/unit/nowhere-like-this/x.test.ts', 'test/stray.ts']);
  });
});
