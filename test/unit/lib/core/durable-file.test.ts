import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { removeDurably, stageFile, writeFileAtomic } from '../../../../lib/core/durable-file.js';

describe('durable file replacement', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'qcs-durable-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces content and leaves no temp file', async () => {
    const f = path.join(dir, 'volume-x.info');
    writeFileSync(f, 'old');
    await writeFileAtomic(f, 'new', { mode: 0o600 });
    expect(readFileSync(f, 'utf8')).to.equal('new');
    expect(statSync(f).mode & 0o777).to.equal(0o600);
    expect(readdirSync(dir)).to.deep.equal(['volume-x.info']);
  });

  it('keeps the old content visible until a staged file is committed, and can discard it', async () => {
    const f = path.join(dir, 'state.json');
    writeFileSync(f, 'old');
    const staged = await stageFile(f, 'new');
    expect(readFileSync(f, 'utf8')).to.equal('old');
    const temps = readdirSync(dir).filter((n) => n.startsWith('.state.json.') && n.endsWith('.tmp'));
    expect(temps).to.have.length(1);
    await staged.commit();
    expect(readFileSync(f, 'utf8')).to.equal('new');
    const again = await stageFile(f, 'newer');
    await again.discard();
    expect(readFileSync(f, 'utf8')).to.equal('new');
    expect(readdirSync(dir)).to.deep.equal(['state.json']);
  });

  it('removes durably and treats an absent file as success', async () => {
    const f = path.join(dir, 'a');
    writeFileSync(f, 'x');
    await removeDurably(f);
    await removeDurably(f);
    expect(readdirSync(dir)).to.deep.equal([]);
  });
});
