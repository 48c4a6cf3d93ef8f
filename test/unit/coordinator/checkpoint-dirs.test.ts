/** Checkpoint directories on the share are never followed through a planted symlink. */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { isStorageError } from '../../../lib/core/errors.js';
import { readCheckpoint, type CheckpointDeps, type CheckpointLibvirt } from '../../../coordinator/checkpoint/runner.js';

describe('checkpoint directories on the share', () => {
  let root: string;
  let deps: CheckpointDeps;
  const instance = randomUUID();
  const id = randomUUID();

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-dirs-'));
    // No libvirt call may happen on these paths: any use fails the test.
    const libvirt = new Proxy({}, { get: () => () => { throw new Error('libvirt must not be called'); } }) as CheckpointLibvirt;
    deps = { libvirt, shareMount: path.join(root, 'share'), makeOverlay: () => { throw new Error('no overlay expected'); } };
    fs.mkdirSync(path.join(root, 'share'));
    fs.mkdirSync(path.join(root, 'elsewhere', instance, id), { recursive: true });
    fs.writeFileSync(path.join(root, 'elsewhere', instance, id, 'checkpoint.json'), '{}');
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('answers NOT_FOUND for a checkpoint that does not exist', async () => {
    const e = await readCheckpoint(deps, instance, id).then(() => null, (x: unknown) => x);
    expect(isStorageError(e, 'NOT_FOUND'), String(e)).to.equal(true);
  });

  const cases: [string, () => [string, string]][] = [['checkpoints', () => ['share/checkpoints', 'elsewhere']], ['instance', () => [`share/checkpoints/${instance}`, `elsewhere/${instance}`]]];
  for (const [what, link] of cases) {
    it(`refuses a symlinked ${what} directory with FILE_UNSAFE`, async () => {
      const [from, to] = link();
      fs.mkdirSync(path.dirname(path.join(root, from)), { recursive: true });
      fs.symlinkSync(path.join(root, to), path.join(root, from));
      const e = await readCheckpoint(deps, instance, id).then(() => null, (x: unknown) => x);
      expect(isStorageError(e, 'FILE_UNSAFE'), String(e)).to.equal(true);
    });
  }
});
