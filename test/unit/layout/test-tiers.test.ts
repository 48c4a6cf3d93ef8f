/**
 * `npm test`'s two tiers (test/fixtures/mocha/tiers.cjs): the files mocha collects for each, by
 * its own file collector and the tiers' own options, are together every test file of the tree,
 * none in both and none twice; each serial entry names something that holds tests and gives its
 * reason. A file that fell out of both tiers would silently never run.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const require = createRequire(import.meta.url);

interface TierOptions { spec: string[]; ignore?: string[]; extension: string[]; parallel?: boolean; jobs?: number; 'fail-zero'?: boolean; 'forbid-only'?: boolean }
const tiers = require('../../fixtures/mocha/tiers.cjs') as { parallel: TierOptions; serial: TierOptions };
const serialEntries = require('../../fixtures/mocha/serial-tier.cjs') as { path: string; why: string }[];
const collectFiles = require('mocha/lib/cli/collect-files.cjs') as (o: object) => { files: string[] };

/** The files mocha runs for a tier's options (relative to the repository), in its order. */
function collected(o: TierOptions): string[] {
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    return collectFiles({ spec: o.spec, ignore: o.ignore ?? [], extension: o.extension, file: [], recursive: false, sort: false, allowEmpty: true })
      .files.map((f) => path.relative(ROOT, f));
  } finally {
    process.chdir(cwd);
  }
}

function treeTests(): string[] {
  const list = (args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).split('\n');
  return [...new Set([...list(['ls-files', 'test']), ...list(['ls-files', '--others', '--exclude-standard', 'test'])])].filter((f) => f.endsWith('.test.ts'));
}

describe('layout: npm test\'s parallel and serial tiers', () => {
  const parallel = collected(tiers.parallel);
  const serial = collected(tiers.serial);

  it('together run every test file of the tree, each once, none in both tiers', () => {
    expect(new Set(parallel).size, 'a file twice in the parallel tier').to.equal(parallel.length);
    expect(new Set(serial).size, 'a file twice in the serial tier').to.equal(serial.length);
    expect(parallel.filter((f) => serial.includes(f)), 'in both tiers').to.deep.equal([]);
    expect([...parallel, ...serial].sort()).to.deep.equal(treeTests().sort());
  });

  it('each serial entry holds test files and says why it must run alone', () => {
    for (const e of serialEntries) {
      expect(serial.filter((f) => f === e.path || f.startsWith(`${e.path}/`)), e.path).to.not.deep.equal([]);
      expect(e.why.trim(), e.path).to.not.equal('');
    }
    expect(serial.length).to.be.above(0);
  });

  it('the parallel tier runs in two workers, both tiers refuse .only and an empty run', () => {
    expect([tiers.parallel.parallel, tiers.parallel.jobs]).to.deep.equal([true, 2]);
    for (const t of [tiers.parallel, tiers.serial]) expect([t['fail-zero'], t['forbid-only'], t.parallel === true && t === tiers.serial]).to.deep.equal([true, true, false]);
  });
});
