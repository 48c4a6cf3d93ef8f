/**
 * The dependency rule of the folders (lib/ <- drivers/ <- src/; lib/ <- coordinator/) is enforced
 * by lint (eslint.config.js). Each case lints one import through the ESLint Node API as if it
 * were a file at the given path (nothing is written to the tree), and checks that the forbidden
 * ones fail with no-restricted-imports and the allowed ones pass, so neither half can rot.
 */
import { expect } from 'chai';
import { ESLint } from 'eslint';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** [the importing file, the specifier it imports] */
const FORBIDDEN: [string, string][] = [
  ['lib/core/fixture.ts', '../../src/api/app.js'],
  ['lib/qemu/fixture.ts', '../../drivers/contract/volume-driver.js'],
  ['lib/shares/fixture.ts', '../../coordinator/server.js'],
  ['lib/libvirt/procedures/fixture.ts', '../../../src/db/records.js'],
  ['drivers/remotefs/fixture.ts', '../../src/db/records.js'],
  ['drivers/contract/fixture.ts', '../../src/api/context.js'],
  ['drivers/contract/fixture.ts', '../remotefs/export/manifest.js'],
  ['drivers/remotefs/fixture.ts', '../../coordinator/attach/mounts.js'],
  ['src/api/fixture.ts', '../../drivers/remotefs/paths.js'],
  ['src/db/fixture.ts', '../../drivers/remotefs/driver.js'],
  ['src/api/fixture.ts', '../../coordinator/server.js'],
  ['coordinator/attach/fixture.ts', '../../src/api/app.js'],
  ['coordinator/fixture.ts', '../drivers/contract/volume-driver.js'],
  ['lib/core/fixture.ts', 'execa'],
  ['drivers/remotefs/fixture.ts', 'execa'],
];

const ALLOWED: [string, string][] = [
  ['lib/qemu/fixture.ts', '../core/errors.js'],
  ['lib/protocol/fixture.ts', '../core/volume-names.js'],
  ['drivers/remotefs/fixture.ts', '../../lib/core/errors.js'],
  ['drivers/remotefs/fixture.ts', '../contract/volume-driver.js'],
  ['drivers/remotefs/export/fixture.ts', '../../contract/export-manifest.js'],
  ['drivers/contract/registry.ts', '../remotefs/options.js'],
  ['src/api/fixture.ts', '../../lib/core/errors.js'],
  ['src/api/fixture.ts', '../../drivers/contract/registry.js'],
  ['src/db/fixture.ts', '../../drivers/contract/volume-driver.js'],
  ['coordinator/attach/fixture.ts', '../../lib/protocol/assisted-snapshot.js'],
  ['lib/core/process.ts', 'execa'],
];

async function restrictions(file: string, specifier: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: REPO_ROOT });
  const [result] = await eslint.lintText(`import * as m from '${specifier}';\nexport const used = m;\n`, { filePath: path.join(REPO_ROOT, file) });
  if (!result) throw new Error(`eslint returned no result for ${file}`);
  const fatal = result.messages.filter((m) => m.fatal);
  if (fatal.length > 0) throw new Error(`eslint could not parse the fixture for ${file}: ${fatal[0]?.message}`);
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('dependency rule (lint)', function () {
  this.timeout(120_000);

  for (const [file, specifier] of FORBIDDEN) {
    it(`refuses ${file} importing ${specifier}`, async () => {
      expect(await restrictions(file, specifier)).to.have.lengthOf(1);
    });
  }

  for (const [file, specifier] of ALLOWED) {
    it(`lets ${file} import ${specifier}`, async () => {
      expect(await restrictions(file, specifier)).to.deep.equal([]);
    });
  }
});
