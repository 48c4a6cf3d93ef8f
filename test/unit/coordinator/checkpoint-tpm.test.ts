/**
 * The TPM state a checkpoint carries: the emulated TPM a definition names, the record's `tpm`
 * entry read as hostile input, and the shared put-back / undo of a device-state file on real files
 * (the revert with a booted guest is in the checkpoint TPM integration test).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { isStorageError } from '../../../lib/core/errors.js';
import { parseRecord, type CheckpointRecord } from '../../../coordinator/checkpoint/record.js';
import { checkTpm, restoreTpm, tpmStatePath, tpmVersionOf } from '../../../coordinator/checkpoint/tpm.js';
import { checkSavedCopy, putBackStateFile, saveStateFile, undoPutBack } from '../../../coordinator/checkpoint/state-file.js';

const V1 = '11111111-1111-4111-8111-111111111111';
const INST = '33333333-3333-4333-8333-333333333333';
const CP = '44444444-4444-4444-8444-444444444444';
const KIND = { reason: 'tpm', label: 'checkpoint TPM state', limit: 1024 };

const good: CheckpointRecord = {
  id: CP, instanceUuid: INST, name: 'c1', description: '', created: '2026-01-01T00:00:00.000Z', mode: 'consistent', quiesced: false,
  status: 'available', volumes: [{ volumeId: V1, target: 'vdb', snapshotPoint: `/mnt/a/volume-${V1}`, sizeBytes: 1 << 20 }],
  excluded: [], memorySize: 0, definitionSha256: 'a'.repeat(64), tpm: { version: '2.0', size: 6134, sha256: 'c'.repeat(64) },
};
const parse = (text: string) => parseRecord(text, 'checkpoint.json', { id: CP, instanceUuid: INST });

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try { await (typeof p === 'function' ? p() : p); } catch (e) { return isStorageError(e) ? e.code : String(e); }
  return undefined;
}

const emulator = (backend: string) => `<domain><devices><tpm model='tpm-crb'>${backend}</tpm></devices></domain>`;

describe('checkpoint TPM state', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qcs-tpm-')); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('reads the emulated TPM\'s version from a definition; passthrough and none carry no state', () => {
    expect(tpmVersionOf(emulator(`<backend type='emulator' version='2.0'/>`))).to.equal('2.0');
    expect(tpmVersionOf(emulator(`<backend type="emulator" version="1.2"><encryption secret='x'/></backend>`))).to.equal('1.2');
    expect(tpmVersionOf(emulator(`<backend type='passthrough'><device path='/dev/tpm0'/></backend>`))).to.equal(null);
    expect(tpmVersionOf('<domain><devices/></domain>')).to.equal(null);
  });

  it('refuses an emulated TPM it cannot place: no or an unknown version, or two of them', async () => {
    for (const xml of [
      emulator(`<backend type='emulator'/>`), emulator(`<backend type='emulator' version='../x'/>`),
      emulator(`<backend type='emulator' version='2.0'/>`).replace('</devices>', `<tpm model='tpm-tis'><backend type='emulator' version='2.0'/></tpm></devices>`),
    ]) expect(await codeOf(() => tpmVersionOf(xml)), xml).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
  });

  it('places the state where libvirt\'s swtpm keeps it, by instance and version only', () => {
    expect(tpmStatePath('/s', INST, '2.0')).to.equal(`/s/${INST}/tpm2/tpm2-00.permall`);
    expect(tpmStatePath('/s', INST, '1.2')).to.equal(`/s/${INST}/tpm1.2/tpm-00.permall`);
  });

  it('reads the record\'s tpm entry back and refuses a malformed one', async () => {
    expect(parse(JSON.stringify(good))).to.deep.equal(good);
    for (const tpm of [null, { ...good.tpm, version: '3.0' }, { ...good.tpm, size: -1 }, { ...good.tpm, size: 1.5 }, { ...good.tpm, sha256: 'x' }, { ...good.tpm, version: undefined }]) {
      const text = JSON.stringify({ ...good, tpm });
      expect(await codeOf(() => parse(text)), text).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
    }
  });

  it('saves a copy (0600, size and digest), refuses a replaced or linked copy, puts it back and undoes that', async () => {
    const state = path.join(dir, 'state');
    const copy = path.join(dir, 'copy');
    const previous = path.join(dir, 'previous');
    fs.writeFileSync(state, 'at the checkpoint', { mode: 0o640 });
    const saved = await saveStateFile(state, copy, KIND);
    expect(saved.size).to.equal(17);
    expect(fs.statSync(copy).mode & 0o777).to.equal(0o600);

    fs.writeFileSync(copy, 'at the checkpoinT');
    expect(await codeOf(checkSavedCopy(copy, saved, KIND))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
    fs.rmSync(copy);
    fs.symlinkSync(state, copy);
    expect(await codeOf(checkSavedCopy(copy, saved, KIND)), 'a link is not followed').to.equal('CHECKPOINT_DEFINITION_UNSAFE');
    fs.rmSync(copy);
    fs.writeFileSync(copy, 'at the checkpoint', { mode: 0o600 });
    await checkSavedCopy(copy, saved, KIND);

    fs.writeFileSync(state, 'changed since');
    await putBackStateFile(state, copy, previous, KIND);
    // A settle pass repeating the put-back keeps the first previous copy.
    await putBackStateFile(state, copy, previous, KIND);
    expect(fs.readFileSync(state, 'utf8')).to.equal('at the checkpoint');
    expect(fs.statSync(state).mode & 0o777, 'the file\'s mode kept').to.equal(0o640);
    expect(fs.readFileSync(previous, 'utf8')).to.equal('changed since');
    await undoPutBack(state, previous, KIND);
    expect(fs.readFileSync(state, 'utf8')).to.equal('changed since');
    expect(fs.existsSync(previous)).to.equal(false);
  });

  it('refuses a revert when the instance lost its TPM or its state directory is a link; no directory: only a restore with memory', async () => {
    const cpDir = path.join(dir, 'cp');
    fs.mkdirSync(cpDir);
    fs.mkdirSync(path.join(dir, 'swtpm', INST, 'tpm2'), { recursive: true });
    fs.writeFileSync(tpmStatePath(path.join(dir, 'swtpm'), INST, '2.0'), 'tpm');
    const record = { version: '2.0' as const, ...await saveStateFile(tpmStatePath(path.join(dir, 'swtpm'), INST, '2.0'), path.join(cpDir, 'tpm.permall'), KIND) };
    const withTpm = emulator(`<backend type='emulator' version='2.0'/>`);
    const root = path.join(dir, 'swtpm');
    await checkTpm(record, cpDir, withTpm, root, INST, false);
    expect(await codeOf(checkTpm(record, cpDir, '<domain/>', root, INST, true))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
    expect(await codeOf(checkTpm({ ...record, version: '1.2' }, cpDir, withTpm, root, INST, true))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
    fs.renameSync(path.join(root, INST, 'tpm2'), path.join(dir, 'elsewhere'));
    fs.symlinkSync(path.join(dir, 'elsewhere'), path.join(root, INST, 'tpm2'));
    for (const withMemory of [true, false]) expect(await codeOf(checkTpm(record, cpDir, withTpm, root, INST, withMemory))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
    // A host where the TPM never ran: the memory file's stream restores it; a disk-only revert cannot.
    fs.rmSync(path.join(root, INST), { recursive: true });
    await checkTpm(record, cpDir, withTpm, root, INST, true);
    await restoreTpm(record, cpDir, dir, root, INST);
    expect(fs.existsSync(path.join(root, INST)), 'nothing made where libvirt makes the directory').to.equal(false);
    expect(await codeOf(checkTpm(record, cpDir, withTpm, root, INST, false))).to.equal('CHECKPOINT_DEFINITION_UNSAFE');
  });
});
