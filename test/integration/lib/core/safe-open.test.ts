/** The safe open of a share's files, on real files of every kind (root: mknod and mount are used). */
import { expect } from 'chai';
import { chmod, link, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isStorageError } from '../../../../lib/core/errors.js';
import { run } from '../../../../lib/core/process.js';
import { closeSync } from 'node:fs';
import { assertNamedFileSync, assertSafeFile, openInDir, openInDirSync, setOwnerAndMode, type OpenAccess } from '../../../../lib/core/safe-open.js';

async function refusal(p: Promise<unknown>): Promise<{ code: string; reason?: unknown }> {
  try {
    await p;
  } catch (err) {
    if (!isStorageError(err)) throw err;
    return { code: err.code, reason: err.details['reason'] };
  }
  throw new Error('expected a refusal, it was opened');
}

/** openInDirSync's answer as openInDir's: the size, or the refusal. */
const openSyncAndClose = (dir: string, name: string, access: OpenAccess): Promise<number> => Promise.resolve().then(() => {
  const { fd, stat: st } = openInDirSync(dir, name, access);
  closeSync(fd);
  return st.size;
});

/** The lstat-only check of a file that is named, never opened (an overlay's backing file). */
const named = (dir: string, name: string): Promise<unknown> => Promise.resolve().then(() => assertNamedFileSync(dir, name));

async function openAndClose(dir: string, name: string, access: OpenAccess): Promise<number> {
  const { fh, stat: st } = await openInDir(dir, name, access);
  await fh.close();
  return st.size;
}

describe('safe open of a share\'s files (real files)', function () {
  this.timeout(300_000);
  let dir: string;
  let outside: string;
  const at = (n: string) => path.join(dir, n);

  beforeEach(async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'safe-open-'));
    dir = path.join(tmp, 'share');
    outside = path.join(tmp, 'outside');
    await mkdir(dir);
    await writeFile(outside, 'secret\n');
    await chmod(outside, 0o640);
  });
  afterEach(async () => {
    await rm(path.dirname(dir), { recursive: true, force: true });
  });

  it('opens a lone regular file for reading and for update', async () => {
    await writeFile(at('f'), 'abc');
    expect(await openAndClose(dir, 'f', 'read')).to.equal(3);
    expect(await openAndClose(dir, 'f', 'update')).to.equal(3);
    expect(await openSyncAndClose(dir, 'f', 'read')).to.equal(3);
    expect(await openSyncAndClose(dir, 'f', 'update')).to.equal(3);
    expect((await assertSafeFile(at('f'))).nlink).to.equal(1);
    expect(assertNamedFileSync(dir, 'f').size).to.equal(3);
  });

  it('a missing file is NOT_FOUND', async () => {
    expect((await refusal(openInDir(dir, 'nope', 'read'))).code).to.equal('NOT_FOUND');
    expect((await refusal(named(dir, 'nope'))).code).to.equal('NOT_FOUND');
    expect((await refusal(openSyncAndClose(dir, 'nope', 'read'))).code).to.equal('NOT_FOUND');
  });

  for (const access of ['read', 'update'] as const) {
    it(`refuses every other kind of entry (${access})`, async () => {
      await symlink(outside, at('symlink'));
      await symlink('nowhere', at('dangling'));
      await link(outside, at('hardlink'));
      await run('mkfifo', [at('fifo')]);
      await run('mknod', [at('device'), 'c', '1', '3']);
      await mkdir(at('directory'));
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(at('socket'), resolve));
      try {
        const expected: Record<string, string> = {
          symlink: 'symlink', dangling: 'symlink', hardlink: 'hard link', fifo: 'fifo', device: 'device', directory: 'directory', socket: 'socket',
        };
        for (const [name, reason] of Object.entries(expected)) {
          expect(await refusal(openInDir(dir, name, access)), name).to.deep.equal({ code: 'FILE_UNSAFE', reason });
          expect(await refusal(named(dir, name)), `${name} (named)`).to.deep.equal({ code: 'FILE_UNSAFE', reason });
          expect(await refusal(openSyncAndClose(dir, name, access)), `${name} (sync)`).to.deep.equal({ code: 'FILE_UNSAFE', reason });
        }
        // the outside file, now linked twice, is refused under its own name too
        expect(await refusal(assertSafeFile(outside))).to.deep.equal({ code: 'FILE_UNSAFE', reason: 'hard link' });
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  }

  it('refuses names that are not bare names in the directory', async () => {
    await writeFile(at('f'), 'abc');
    for (const name of ['../outside', 'sub/f', '/etc/passwd', '.', '..', '', 'f\0', `${'a'.repeat(256)}`]) {
      expect(await refusal(openInDir(dir, name, 'read')), JSON.stringify(name)).to.deep.equal({ code: 'FILE_UNSAFE', reason: 'not a bare name' });
      expect(await refusal(named(dir, name)), `${JSON.stringify(name)} (named)`).to.deep.equal({ code: 'FILE_UNSAFE', reason: 'not a bare name' });
      expect(await refusal(openSyncAndClose(dir, name, 'read')), `${JSON.stringify(name)} (sync)`).to.deep.equal({ code: 'FILE_UNSAFE', reason: 'not a bare name' });
    }
  });

  it('refuses a file on another file system than its directory (a bind mount from a tmpfs)', async () => {
    const tmpfs = path.join(path.dirname(dir), 'tmpfs');
    await mkdir(tmpfs);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tmpfs]);
    try {
      await writeFile(path.join(tmpfs, 'x'), 'other fs');
      await writeFile(at('mounted'), '');
      await run('mount', ['--bind', path.join(tmpfs, 'x'), at('mounted')]);
      try {
        expect(await refusal(openInDir(dir, 'mounted', 'read'))).to.deep.equal({ code: 'FILE_UNSAFE', reason: 'other file system' });
        expect(await refusal(named(dir, 'mounted'))).to.deep.equal({ code: 'FILE_UNSAFE', reason: 'other file system' });
        expect(await refusal(openSyncAndClose(dir, 'mounted', 'read'))).to.deep.equal({ code: 'FILE_UNSAFE', reason: 'other file system' });
      } finally {
        await run('umount', [at('mounted')]);
      }
    } finally {
      await run('umount', [tmpfs]);
    }
  });

  it('changes owner and mode through the descriptor; a link planted under the name leaves its target as it was', async () => {
    await writeFile(at('f'), 'abc');
    await chmod(at('f'), 0o600);
    await setOwnerAndMode(at('f'), 0o660, { uid: 23456, gid: 23457 });
    const st = await stat(at('f'));
    expect([st.mode & 0o777, st.uid, st.gid]).to.deep.equal([0o660, 23456, 23457]);

    await symlink(outside, at('symlink'));
    await link(outside, at('hardlink'));
    for (const name of ['symlink', 'hardlink']) {
      expect((await refusal(setOwnerAndMode(at(name), 0o666, { uid: 23456, gid: 23457 }))).code, name).to.equal('FILE_UNSAFE');
    }
    const o = await stat(outside);
    expect([o.mode & 0o777, o.uid, o.gid]).to.deep.equal([0o640, 0, 0]);
  });
});
