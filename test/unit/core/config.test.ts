import { expect } from 'chai';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { applyEnvOverrides, loadConfig, parseConfig } from '../../../lib/core/config.js';
import { isStorageError } from '../../../lib/core/errors.js';

describe('config', () => {
  it('fills defaults for an empty file and freezes the result', () => {
    const c = parseConfig({});
    expect(c.storage.maxChainDepth).to.equal(128);
    expect(c.api.port).to.equal(8776);
    expect(c.db.dialect).to.equal('sqlite');
    expect(Object.isFrozen(c.storage)).to.equal(true);
    expect(() => { (c.storage as { maxChainDepth: number }).maxChainDepth = 5; }).to.throw(TypeError);
  });

  it('rejects unknown keys with their path', () => {
    try {
      parseConfig({ storage: { maxChainDepht: 10 } });
      expect.fail('accepted an unknown key');
    } catch (err) {
      expect(isStorageError(err, 'CONFIG_INVALID')).to.equal(true);
      expect((err as Error).message).to.contain('maxChainDepht');
    }
  });

  it('rejects a chain depth libvirt could never attach', () => {
    expect(() => parseConfig({ storage: { maxChainDepth: 500 } })).to.throw(/maxChainDepth/);
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
      const c = loadConfig({ file, env: { QCOWSHARE__storage__maxChainDepth: '64' } });
      expect(c.api.port).to.equal(1234);
      expect(c.storage.maxChainDepth).to.equal(64);
      expect(() => loadConfig({ file: path.join(dir, 'missing.json'), env: {} })).to.throw(/missing\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts every shipped deployment file', async () => {
    const { readdirSync } = await import('node:fs');
    const files = readdirSync('config').filter((f) => f.endsWith('.json'));
    expect(files.length).to.be.greaterThan(1);
    for (const f of files) expect(() => loadConfig({ file: path.join('config', f), env: {} }), f).not.to.throw();
  });
});
