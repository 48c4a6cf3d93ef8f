/**
 * The README's Cinder API compatibility table, generated from src/api/microversions/cinder-compat.ts
 * (a test keeps it in sync):
 *
 *   npx tsx scripts/compat-table.ts            # rewrite the README section
 *   npx tsx scripts/compat-table.ts --check    # exit 1 when it differs
 */
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCompatTable } from '../src/api/microversions/cinder-compat.js';
import { MAX_VERSION } from '../src/api/microversions/version.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const README = path.join(ROOT, 'README.md');
const START = '<!-- compat-table:start (generated: npx tsx scripts/compat-table.ts) -->';
const END = '<!-- compat-table:end -->';

export function renderSection(): string {
  return `${START}\nAdvertised microversions: 3.0 to ${MAX_VERSION}; every version up to it is served or refused with a reason (src/api/microversions/history.ts).\n\n${renderCompatTable()}${END}`;
}

/** The README with its section replaced (appended after the cinder-client section when absent). */
export function withSection(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start >= 0 && end > start) return readme.slice(0, start) + renderSection() + readme.slice(end + END.length);
  const anchor = readme.indexOf('\n## Adopting volumes made elsewhere');
  if (anchor < 0) throw new Error('README: no place for the compatibility table');
  return `${readme.slice(0, anchor)}\n### Cinder API compatibility\n\n${renderSection()}\n${readme.slice(anchor)}`;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const current = readFileSync(README, 'utf8');
  const next = withSection(current);
  if (process.argv.includes('--check')) process.exit(next === current ? 0 : 1);
  writeFileSync(README, next);
  console.log('wrote the compatibility table in README.md');
}
