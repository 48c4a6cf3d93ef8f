import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { isModulePath, loadDriver } from '../../../../drivers/contract/registry.js';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { isStorageError } from '../../../../lib/core/errors.js';
import { FileLeaseManager } from '../../../../lib/core/file-lease.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function ctx(driver: string) {
  const config = parseServiceConfig({ storage: { driver } });
  return { config, leases: new FileLeaseManager('/nonexistent-lease-dir'), logger: pino({ level: 'silent' }), holderId: 'test' };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    // A module loaded by path may get its own copy of errors.ts (the test runner keeps separate
    // module graphs for static and dynamic imports), so match on the stable code, not the class.
    if (isStorageError(err)) return err.code;
    const code = (err as { name?: unknown; code?: unknown }).code;
    return (err as Error).name === 'StorageError' && typeof code === 'string' ? code : String(err);
  }
  return 'no error';
}

describe('driver registry', () => {
  it('loads the built-in remotefs driver by name (storage.driver)', async () => {
    const d = await loadDriver(ctx('remotefs'));
    expect(d.name).to.equal('remotefs');
    expect(typeof d.createVolume).to.equal('function');
  });

  it('loads a driver module by path (createDriver export)', async () => {
    const rel = path.relative(process.cwd(), path.join(here, '../../../fixtures/drivers/unimplemented-driver.ts'));
    const d = await loadDriver(ctx(`./${rel}`));
    expect(d.name).to.equal('fake');
    expect(await codeOf(d.createVolume({ id: 'x', sizeGiB: 1 }))).to.equal('NOT_IMPLEMENTED');
  });

  it('refuses unknown names, missing modules and incomplete drivers with CONFIG_INVALID', async () => {
    expect(await codeOf(loadDriver(ctx('nosuchdriver')))).to.equal('CONFIG_INVALID');
    expect(await codeOf(loadDriver(ctx('./no/such/module.ts')))).to.equal('CONFIG_INVALID');
    expect(await codeOf(loadDriver(ctx(path.join(here, '../../../fixtures/drivers/incomplete-driver.ts'))))).to.equal('CONFIG_INVALID');
  });

  it('tells names from paths', () => {
    expect(isModulePath('remotefs')).to.equal(false);
    expect(isModulePath('./x.js')).to.equal(true);
    expect(isModulePath('/opt/d/index.js')).to.equal(true);
  });
});
