/**
 * A booted guest (TCG, qemu-ga) with an emulated TPM 2.0 (<tpm model='tpm-crb'>, libvirt starts
 * swtpm for it): its persistent TPM state is saved with a checkpoint and is back after a revert
 * although it changed in between, both with memory (running guest) and disk-only (stopped). The
 * state changes while the guest is stopped: the state file is replaced by another valid TPM's
 * (a fresh one made by swtpm_setup, other seeds), as a guest taking ownership would change it.
 * The test guest itself cannot reach its TPM (no ACPI, so no TPM2 table for the kernel).
 *
 * Verified by digest of swtpm's state file (libvirt's <swtpm dir>/<uuid>/tpm2/tpm2-00.permall):
 * swtpm writes it back byte for byte when QEMU hands it the state from the memory file.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { isStorageError } from '../../../../lib/core/errors.js';
import { run } from '../../../../lib/core/process.js';
import { DomainState, type DomainRef, type LibvirtConnection } from '../../../../lib/libvirt/index.js';
import { checkpointPaths } from '../../../../coordinator/checkpoint/plan.js';
import { REVERT_INTENT_FILE } from '../../../../coordinator/checkpoint/record.js';
import { revertCheckpoint, takeCheckpoint, type CheckpointDeps } from '../../../../coordinator/checkpoint/runner.js';
import { SWTPM_STATE_ROOT, TPM_FILE, TPM_PREVIOUS_FILE, tpmStatePath } from '../../../../coordinator/checkpoint/tpm.js';
import { parseDomainXml } from '../../../../coordinator/domain/disks.js';
import { createDisk, createOverlay, execInGuest, guestImage, guestXml, openTestConnection } from '../../../fixtures/guest/index.js';
import { makeRunDir } from '../../../fixtures/guest/paths.js';
import { removeSuiteDomain, waitForDomainAgent } from '../../../fixtures/guest/suite-domain.js';

const digest = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('checkpoints of a booted guest with an emulated TPM (swtpm)', function () {
  this.timeout(600_000);
  let conn: LibvirtConnection;
  let dir: string;
  let dom: DomainRef;
  let deps: CheckpointDeps;
  let otherTpm: Buffer;
  const instance = randomUUID();
  const volume = randomUUID();
  const state = tpmStatePath(SWTPM_STATE_ROOT, instance, '2.0');
  const instanceDir = () => path.join(dir, 'checkpoints', instance);

  const waitForAgent = () => waitForDomainAgent(conn, dom, 300_000);
  const exec = (script: string) => execInGuest(conn, dom, script);
  /** The state file replaced while the guest is stopped, owner and mode kept (swtpm must read it). */
  function changeTpmState(): void {
    const st = fs.statSync(state);
    fs.writeFileSync(state, otherTpm);
    fs.chownSync(state, st.uid, st.gid);
    fs.chmodSync(state, st.mode & 0o777);
  }
  async function activeFile(): Promise<string> {
    return parseDomainXml(await conn.getXmlDesc(dom)).disks.find((x) => x.target === 'vdb')?.chain[0]?.path as string;
  }

  before(async function () {
    this.timeout(500_000);
    conn = await openTestConnection();
    dir = makeRunDir('cktpm');
    const vols = path.join(dir, 'vols');
    fs.mkdirSync(vols, { mode: 0o755 });
    // Another valid TPM 2.0 state: what the instance's TPM is changed to between checkpoint and revert.
    const other = path.join(dir, 'other-tpm');
    fs.mkdirSync(other);
    await run('swtpm_setup', ['--tpm2', '--tpmstate', other, '--overwrite'], { timeoutMs: 120_000 });
    otherTpm = fs.readFileSync(path.join(other, 'tpm2-00.permall'));
    const image = await guestImage();
    const disks = [{ target: 'vdb', serial: volume, file: await createDisk(vols, `volume-${volume}`, 64 << 20, 'blank') }];
    const xml = guestXml({ name: `cktpm-${instance.slice(0, 8)}`, ...image, disks, agent: true, consoleLog: path.join(dir, 'console.log') })
      .replace('<name>', `<uuid>${instance}</uuid><name>`)
      .replace('<memballoon', `<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm><memballoon`);
    dom = await conn.defineXml(xml);
    dom = await conn.create(dom);
    await waitForAgent();
    // libvirt ran swtpm_setup for the new domain before QEMU started; the state is there now.
    expect(fs.statSync(state).isFile(), 'swtpm keeps the state where libvirt 9.0 puts it').to.equal(true);
    deps = { libvirt: conn, shareMount: dir, makeOverlay: async (d, backing, overlay, size) => { await createOverlay(d, backing, overlay, size); } };
  });

  after(async function () {
    this.timeout(60_000);
    // Without KEEP_TPM libvirt removes the domain's swtpm state directory.
    await removeSuiteDomain(conn, dom);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('saves the TPM state with a memory checkpoint, refuses a replaced copy, and has it back after the revert though it changed', async () => {
    await exec('echo at-t1 > /ram-state');
    const atCheckpoint = digest(state);
    const t1 = await takeCheckpoint(deps, { instanceUuid: instance, name: 't1' });
    expect(t1.mode).to.equal('consistent');
    expect(t1.tpm).to.deep.equal({ version: '2.0', size: fs.statSync(state).size, sha256: atCheckpoint });
    const saved = path.join(checkpointPaths(dir, instance, t1.id).dir, TPM_FILE);
    expect(digest(saved)).to.equal(atCheckpoint);
    expect(fs.statSync(saved).mode & 0o777).to.equal(0o600);

    // In between: the RAM changes, the guest stops, its TPM state becomes another TPM's.
    await exec('echo later > /ram-state');
    await conn.destroy(dom);
    changeTpmState();
    const changed = digest(state);
    expect(changed).to.not.equal(atCheckpoint);
    const activeBefore = await activeFile();

    // A saved copy replaced on the share is refused before anything changes.
    const good = fs.readFileSync(saved);
    fs.writeFileSync(saved, otherTpm, { mode: 0o600 });
    const err = await revertCheckpoint(deps, instance, t1.id).then(() => null, (e: unknown) => e);
    expect(isStorageError(err, 'CHECKPOINT_DEFINITION_UNSAFE'), String(err)).to.equal(true);
    expect((err as { details?: { reason?: string } }).details?.reason).to.equal('tpm');
    expect(digest(state), 'the TPM state untouched by the refused revert').to.equal(changed);
    expect((await conn.getState(dom)).state).to.equal(DomainState.SHUTOFF);
    expect(await activeFile()).to.equal(activeBefore);
    expect(fs.existsSync(path.join(instanceDir(), REVERT_INTENT_FILE))).to.equal(false);
    expect(fs.existsSync(path.join(instanceDir(), TPM_PREVIOUS_FILE))).to.equal(false);
    fs.rmSync(saved);

    // A copy of another size is refused as well; then the right copy back.
    fs.writeFileSync(saved, Buffer.concat([good, Buffer.alloc(1)]), { mode: 0o600 });
    const err2 = await revertCheckpoint(deps, instance, t1.id).then(() => null, (e: unknown) => e);
    expect(isStorageError(err2, 'CHECKPOINT_DEFINITION_UNSAFE'), String(err2)).to.equal(true);
    expect(digest(state)).to.equal(changed);
    fs.rmSync(saved);
    fs.writeFileSync(saved, good, { mode: 0o600 });

    await revertCheckpoint(deps, instance, t1.id);
    dom = await conn.lookupByUuid(instance);
    await waitForAgent();
    expect((await exec('cat /ram-state')).trim(), 'the memory is the checkpoint\'s').to.equal('at-t1');
    expect(digest(state), 'the TPM state as at the checkpoint').to.equal(atCheckpoint);
    expect(fs.existsSync(path.join(instanceDir(), TPM_PREVIOUS_FILE)), 'the kept copy goes once the revert ended').to.equal(false);
  });

  it('saves the TPM state with a disk-only checkpoint of the stopped guest and puts it back (no memory stream carries it)', async () => {
    await conn.destroy(dom);
    const atCheckpoint = digest(state);
    const d1 = await takeCheckpoint(deps, { instanceUuid: instance, name: 'd1' });
    expect(d1.mode).to.equal('disk-only');
    expect(d1.tpm?.sha256).to.equal(atCheckpoint);
    changeTpmState();
    expect(digest(state)).to.not.equal(atCheckpoint);
    const mode = fs.statSync(state).mode & 0o777;
    const owner = fs.statSync(state).uid;

    await revertCheckpoint(deps, instance, d1.id);
    expect((await conn.getState(dom)).state).to.equal(DomainState.SHUTOFF);
    expect(digest(state), 'the TPM state as at the checkpoint').to.equal(atCheckpoint);
    expect(fs.statSync(state).mode & 0o777, 'swtpm\'s mode kept').to.equal(mode);
    expect(fs.statSync(state).uid, 'swtpm\'s owner kept').to.equal(owner);
    expect(fs.existsSync(path.join(instanceDir(), TPM_PREVIOUS_FILE))).to.equal(false);

    // swtpm starts on the state written back: the guest boots with its TPM.
    dom = await conn.create(dom);
    await waitForAgent();
    expect((await conn.getState(dom)).state).to.equal(DomainState.RUNNING);
  });
});
