import { expect } from 'chai';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { applyEnvOverrides, composeConfigSchema, loadConfig, parseConfig } from '../../../../lib/core/config.js';
import { remotefsOptionsOf } from '../../../../drivers/remotefs/options.js';
import { loadServiceConfig, parseServiceConfig, serviceConfigSchema } from '../../../../src/api/service-config.js';
import { isStorageError } from '../../../../lib/core/errors.js';

describe('config', () => {
  it('fills defaults for an empty file and freezes the result', () => {
    const c = parseServiceConfig({});
    expect(remotefsOptionsOf(c.storage).maxChainDepth).to.equal(128);
    expect((c.storage as unknown as { maxChainDepth: number }).maxChainDepth).to.equal(128);
    expect(c.api.port).to.equal(8776);
    expect(c.db.dialect).to.equal('sqlite');
    expect(Object.isFrozen(c.storage)).to.equal(true);
    expect(() => { (c.storage as unknown as { maxChainDepth: number }).maxChainDepth = 5; }).to.throw(TypeError);
  });

  it('rejects unknown keys with their path', () => {
    try {
      parseServiceConfig({ storage: { maxChainDepht: 10 } });
      expect.fail('accepted an unknown key');
    } catch (err) {
      expect(isStorageError(err, 'CONFIG_INVALID')).to.equal(true);
      expect((err as Error).message).to.contain('maxChainDepht');
    }
  });

  it('rejects a chain depth libvirt could never attach', () => {
    expect(() => parseServiceConfig({ storage: { maxChainDepth: 500 } })).to.throw(/maxChainDepth/);
  });

  it('allows several API workers only on MySQL/MariaDB', () => {
    expect(parseConfig({}).api.workers).to.equal(1);
    expect(() => parseConfig({ api: { workers: 2 } })).to.throw(/api\.workers: more than one worker needs db\.dialect mysql or mariadb/);
    expect(parseConfig({ api: { workers: 2 }, db: { dialect: 'mariadb' } }).api.workers).to.equal(2);
    expect(() => parseConfig({ api: { workers: 0 }, db: { dialect: 'mariadb' } })).to.throw(/api\.workers/);
  });

  it('applies QCOWSHARE__section__key overrides, JSON-typed when they parse', () => {
    const out = applyEnvOverrides({ api: { port: 1 } }, { QCOWSHARE__api__port: '9000', QCOWSHARE__db__host: 'db.example', OTHER: 'x' });
    expect(out).to.deep.equal({ api: { port: 9000 }, db: { host: 'db.example' } });
  });

  it('loads a file plus environment, and names the file when it cannot be read', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'qcs-config-'));
    try {
      const file = path.join(dir, 'c.json');
      writeFileSync(file, JSON.stringify({ api: { port: 1234 } }));
      const c = loadServiceConfig({ file, env: { QCOWSHARE__storage__maxChainDepth: '64' } });
      expect(c.api.port).to.equal(1234);
      expect(remotefsOptionsOf(c.storage).maxChainDepth).to.equal(64);
      expect(() => loadConfig({ file: path.join(dir, 'missing.json'), env: {} })).to.throw(/missing\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts every shipped deployment file', async () => {
    const { readdirSync } = await import('node:fs');
    const files = readdirSync('config').filter((f) => f.endsWith('.json'));
    expect(files.length).to.be.greaterThan(1);
    for (const f of files) expect(() => loadServiceConfig({ file: path.join('config', f), env: {} }), f).not.to.throw();
    // A compute host reads the same files; the drivers' options in them are the service's.
    const computeHost = composeConfigSchema({}, 'ignore');
    for (const f of files) expect(() => loadConfig({ file: path.join('config', f), env: {}, schema: computeHost }), f).not.to.throw();
  });
});

describe('config: the remotefs driver\'s options are composed into the service\'s schema', () => {
  const driverKeys = { preallocation: 'full', maxChainDepth: 64, overSubscriptionRatio: 3, reservedPercentage: 5, fileOwner: '0:0', fileMode: '0640', importBootDirs: ['/srv/boot'] };

  it('keeps the keys an operator writes under storage, with their defaults', () => {
    const c = parseServiceConfig({ storage: driverKeys });
    expect(remotefsOptionsOf(c.storage)).to.deep.equal(driverKeys);
    expect(remotefsOptionsOf(parseServiceConfig({}).storage)).to.deep.equal({ preallocation: 'off', maxChainDepth: 128, overSubscriptionRatio: 20, reservedPercentage: 0, fileOwner: null, fileMode: '0660', importBootDirs: [] });
    expect(Object.keys(serviceConfigSchema.shape.storage.unwrap().shape)).to.include.members(Object.keys(driverKeys));
  });

  it('rejects a bad driver option with CONFIG_INVALID naming its path, as before', () => {
    for (const [key, bad] of [['preallocation', 'sparse'], ['overSubscriptionRatio', 0.5], ['fileMode', '999'], ['reservedPercentage', 101]] as const) {
      try {
        parseServiceConfig({ storage: { [key]: bad } });
        expect.fail(`accepted storage.${key} = ${String(bad)}`);
      } catch (err) {
        expect(isStorageError(err, 'CONFIG_INVALID'), key).to.equal(true);
        expect((err as Error).message).to.contain(`storage.${key}`);
      }
    }
  });

  it('the core schema alone does not know them; a compute host ignores them, and still rejects its own typos', () => {
    expect(() => parseConfig({ storage: { preallocation: 'full' } })).to.throw(/preallocation/);
    expect(parseConfig({ storage: { preallocation: 'full' } }, composeConfigSchema({}, 'ignore')).storage).to.not.have.property('preallocation');
    expect(() => parseConfig({ coordinator: { prot: 1 } }, composeConfigSchema({}, 'ignore'))).to.throw(/prot/);
  });

  it('gives the driver its defaults from a section parsed without them, and refuses a bad value there', () => {
    const core = parseConfig({}).storage;
    expect(remotefsOptionsOf(core).preallocation).to.equal('off');
    expect(() => remotefsOptionsOf({ ...core, fileMode: 'rw' } as typeof core)).to.throw(/storage\.fileMode/);
  });
});
