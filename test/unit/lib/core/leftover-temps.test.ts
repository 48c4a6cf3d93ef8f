/**
 * Temporaries a failed clean-up left (the share stopped answering): remembered, retried by the
 * sweep until their file system lets them go, forgotten once gone; an absent one is not kept.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { leftoverTemps, removeTemp, retryLeftoverTemps } from '../../../../lib/core/leftover-temps.js';
import { stageFile } from '../../../../lib/core/durable-file.js';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

describe('leftover temporaries (a share that stopped answering)', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leftover-')); });
  afterEach(async () => {
    await retryLeftoverTemps(async () => { throw errno('ENOENT'); });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('removes a temporary at once when it can, and remembers nothing', async () => {
    const f = path.join(dir, '.volume-x.info.0011.tmp');
    fs.writeFileSync(f, 'x');
    await removeTemp(f);
    expect(fs.existsSync(f)).to.equal(false);
    expect(leftoverTemps()).to.deep.equal([]);
  });

  it('remembers one its file system refused (ENOTCONN), keeps it while the share refuses, removes it once the share answers', async () => {
    const f = path.join(dir, '.volume-y.info.0022.tmp');
    fs.writeFileSync(f, 'x');
    const down = async () => { throw errno('ENOTCONN'); };
    await removeTemp(f, down);
    expect(leftoverTemps()).to.deep.equal([f]);
    expect(await retryLeftoverTemps(down)).to.deep.equal({ removed: [], left: 1 });
    expect(fs.existsSync(f)).to.equal(true);
    expect(await retryLeftoverTemps()).to.deep.equal({ removed: [f], left: 0 });
    expect(fs.existsSync(f)).to.equal(false);
    expect(leftoverTemps()).to.deep.equal([]);
  });

  it('an absent temporary is neither an error nor remembered; one that vanished meanwhile is forgotten', async () => {
    await removeTemp(path.join(dir, 'never-there.tmp'));
    expect(leftoverTemps()).to.deep.equal([]);
    const f = path.join(dir, '.volume-z.info.0033.tmp');
    await removeTemp(f, async () => { throw errno('EIO'); });
    expect(await retryLeftoverTemps()).to.deep.equal({ removed: [f], left: 0 });
  });

  it('does not believe an ENOENT while the directory still lists the temporary (a brick lost mid-call)', async () => {
    const f = path.join(dir, '.volume-w.info.0044.tmp');
    fs.writeFileSync(f, 'x');
    const lies = async () => { throw errno('ENOENT'); };
    await removeTemp(f, lies);
    expect(leftoverTemps()).to.deep.equal([f]);
    expect(await retryLeftoverTemps(lies)).to.deep.equal({ removed: [], left: 1 });
    expect(await retryLeftoverTemps()).to.deep.equal({ removed: [f], left: 0 });
    expect(fs.existsSync(f)).to.equal(false);
  });

  it('keeps a temporary whose directory cannot be read to confirm an ENOENT; an absent directory holds none', async () => {
    const parent = path.join(dir, 'not-a-dir');
    fs.writeFileSync(parent, '');
    const f = path.join(parent, '.volume-v.info.0055.tmp');
    await removeTemp(f, async () => { throw errno('ENOENT'); });
    expect(leftoverTemps()).to.deep.equal([f]);
    expect(await retryLeftoverTemps()).to.deep.equal({ removed: [], left: 1 });
    fs.rmSync(parent);
    expect(await retryLeftoverTemps()).to.deep.equal({ removed: [f], left: 0 });
  });

  it('a staged file that is discarded goes through the same clean-up (nothing left in the directory)', async () => {
    const staged = await stageFile(path.join(dir, 'volume-a.info'), '{}');
    expect(fs.readdirSync(dir)).to.have.length(1);
    await staged.discard();
    expect(fs.readdirSync(dir)).to.deep.equal([]);
    expect(leftoverTemps()).to.deep.equal([]);
  });
});
