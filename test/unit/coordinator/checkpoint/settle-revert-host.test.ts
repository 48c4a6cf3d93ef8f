/**
 * The checkpoint share is mounted by every compute host: a revert's intent names the host running
 * it, and another host's start pass leaves it alone (coordinator/checkpoint/runner.ts settleRevert),
 * so it never restores an instance another host is restoring.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { REVERT_INTENT_FILE } from '../../../../coordinator/checkpoint/record.js';
import { settleRevert, type CheckpointDeps, type CheckpointLibvirt } from '../../../../coordinator/checkpoint/runner.js';

describe('checkpoint revert intent of another host', () => {
  let root = '';
  afterEach(() => { if (root) fs.rmSync(root, { recursive: true, force: true }); });

  it('is not settled here: no libvirt call, the intent stays for its host', async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-elsewhere-'));
    const instance = randomUUID();
    const dir = path.join(root, 'checkpoints', instance);
    fs.mkdirSync(dir, { recursive: true });
    const intent = { checkpointId: randomUUID(), instanceUuid: instance, phase: 'destroyed', previousDefinition: null, overlays: [], paused: false, started: '', host: 'host-b' };
    fs.writeFileSync(path.join(dir, REVERT_INTENT_FILE), JSON.stringify(intent));
    const libvirt = new Proxy({}, { get: () => () => { throw new Error('libvirt must not be called'); } }) as CheckpointLibvirt;
    const deps: CheckpointDeps = { libvirt, shareMount: root, makeOverlay: () => { throw new Error('no overlay expected'); }, hostName: 'host-a' };
    expect(await settleRevert(deps, instance)).to.equal('elsewhere');
    expect(fs.existsSync(path.join(dir, REVERT_INTENT_FILE))).to.equal(true);
  });
});
