import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { REFERENCE_FILE, renderConfigReference } from '../../../scripts/config-reference.js';
import { parseConfig } from '../../../lib/core/config.js';
import { mountPointFor } from '../../../lib/core/share-hash.js';

describe('docs: the configuration reference is generated from the schema', () => {
  it('docs/operations/configuration.md is up to date (else: npx tsx scripts/config-reference.ts)', () => {
    expect(readFileSync(REFERENCE_FILE, 'utf8') === renderConfigReference(), 'docs/operations/configuration.md is out of date: run npx tsx scripts/config-reference.ts').to.equal(true);
  });

  it('lists every key of the schema with its default', () => {
    const text = renderConfigReference();
    const defaults = parseConfig({}) as unknown as Record<string, Record<string, unknown>>;
    for (const [section, values] of Object.entries(defaults)) {
      for (const [key, value] of Object.entries(values)) {
        const rows = text.split('\n');
        const row = rows.find((l) => l.startsWith(`| \`${section}.${key}\` |`));
        if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
          // A group of keys (api.keystone): its keys have rows of their own.
          expect(rows.some((l) => l.startsWith(`| \`${section}.${key}.`)), `${section}.${key}.*`).to.equal(true);
          continue;
        }
        expect(row, `${section}.${key}`).to.not.equal(undefined);
        if (typeof value !== 'object' || value === null) expect(row).to.contain(`\`${JSON.stringify(value)}\``);
      }
    }
  });

  it('takes each description from the comment above its key (and says md5, as the code does)', () => {
    const text = renderConfigReference();
    expect(text).to.match(/\| `storage\.mountBase` \|.*md5 hex of the share address/);
    expect(text).to.not.contain('sha256');
    expect(mountPointFor('/m', 'h:/v')).to.equal(`/m/${createHash('md5').update('h:/v').digest('hex')}`);
    // The same key in two sections keeps each section's own comment.
    expect(text).to.match(/\| `api\.port` \|.*storage API/);
    expect(text).to.match(/\| `coordinator\.port` \|.*coordinator/);
    // A changed comment changes the reference: it is read from the source, not copied.
    const edited = readFileSync(new URL('../../../lib/core/config.ts', import.meta.url), 'utf8').replace('Default volume format.', 'Default volume format (edited).');
    expect(renderConfigReference(edited)).to.contain('Default volume format (edited).');
  });
});
