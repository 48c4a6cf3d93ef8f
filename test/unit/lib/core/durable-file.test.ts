import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { removeDurably, stageFile, writeFileAtomic, writeFileNew } from '../../../../lib/core/durable-file.js';

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

  it('creates a new file, never over an entry already there (file, symlink, directory: EEXIST, the entry as it was, no temp left)', async () => {
    const f = path.join(dir, 'volume-y.info');
    await writeFileNew(f, 'first', { mode: 0o600 });
    expect(readFileSync(f, 'utf8')).to.equal('first');
    expect(statSync(f).mode & 0o777).to.equal(0o600);
    const plants: [string, () => void][] = [
      [f, () => undefined],
      [path.join(dir, 'link'), () => symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'link'))],
      [path.join(dir, 'sub'), () => mkdirSync(path.join(dir, 'sub'))],
    ];
    for (const [at, plant] of plants) {
      plant();
      const before = readdirSync(dir).sort();
      let code: string | undefined;
      await writeFileNew(at, 'second').catch((err: NodeJS.ErrnoException) => { code = err.code; });
      expect(code, at).to.equal('EEXIST');
      expect(readdirSync(dir).sort()).to.deep.equal(before);
    }
    expect(readFileSync(f, 'utf8')).to.equal('first');
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
