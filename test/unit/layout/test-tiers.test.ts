/**
 * `npm test`'s tiers (test/fixtures/mocha/tiers.cjs): the files mocha collects for each, by its
 * own file collector and the tiers' own options, are together every test file of the tree, none
 * in two tiers and none twice; each listed entry names something that holds tests and gives its
 * reason. A file that fell out of every tier would silently never run.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const require = createRequire(import.meta.url);

interface TierOptions { spec: string[]; ignore?: string[]; extension: string[]; parallel?: boolean; jobs?: number; 'fail-zero'?: boolean; 'forbid-only'?: boolean }
type Tier = 'parallel' | 'single' | 'alone';
const tiers = require('../../fixtures/mocha/tiers.cjs') as Record<Tier, TierOptions>;
const listed = require('../../fixtures/mocha/serial-tier.cjs') as Record<'single' | 'alone', { path: string; why: string }[]>;
const longFiles = require('../../fixtures/mocha/long-files.cjs') as string[];
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

describe('layout: npm test\'s tiers (parallel, single beside it, alone after)', () => {
  const files = { parallel: collected(tiers.parallel), single: collected(tiers.single), alone: collected(tiers.alone) };
  const all = [...files.parallel, ...files.single, ...files.alone];

  it('together run every test file of the tree, each once, none in two tiers', () => {
    expect(all.filter((f, i) => all.indexOf(f) !== i), 'run twice').to.deep.equal([]);
    expect([...all].sort()).to.deep.equal(treeTests().sort());
  });

  it('each listed entry holds test files of its tier and says why it is there', () => {
    for (const tier of ['single', 'alone'] as const) {
      for (const e of listed[tier]) {
        expect(files[tier].filter((f) => f === e.path || f.startsWith(`${e.path}/`)), `${tier}: ${e.path}`).to.not.deep.equal([]);
        expect(e.why.trim(), e.path).to.not.equal('');
      }
    }
    // The files that kill libvirtd run after the others, never beside a booted guest.
    expect(files.alone).to.include.members(['test/e2e/coordinator/crash.test.ts', 'test/integration/bench/campaign/live-campaign.test.ts']);
    // The files that build this repository's dist/ never run two at once.
    expect(files.parallel.filter((f) => f.startsWith('test/integration/deploy/') || f.endsWith('/deployed-keystone-tls.test.ts'))).to.deep.equal([]);
  });

  it('the parallel tier starts with its longest files, each of them its own', () => {
    const missing = longFiles.filter((f) => !files.parallel.includes(f));
    expect(missing, 'not a test file of the parallel tier').to.deep.equal([]);
    expect(files.parallel.slice(0, longFiles.length)).to.deep.equal(longFiles);
  });

  it('only the parallel tier runs files at once (two workers); every tier refuses .only and an empty run', () => {
    expect([tiers.parallel.parallel, tiers.parallel.jobs]).to.deep.equal([true, 2]);
    for (const t of [tiers.single, tiers.alone]) expect(t.parallel ?? false).to.equal(false);
    for (const t of Object.values(tiers)) expect([t['fail-zero'], t['forbid-only']]).to.deep.equal([true, true]);
  });
});
