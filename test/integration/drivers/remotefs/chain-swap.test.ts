/**
 * Issue 11, reproduction 4: a file of an existing volume's chain replaced by a hostile image
 * (at the active file, at a frozen middle file, at the base) must be refused by EVERY operation
 * that opens the chain, with a stable code, the share (listing, hashes, info file) unchanged; put
 * back, the chain reads its data again and operations run. Real qemu-img / qemu-io, a local
 * share for the whole matrix and one case on a real GlusterFS volume.
 *
 *   volume-V (s1, P1 @ cluster 0) <- volume-V.s1 (s2, P2 @ 1..4) <- volume-V.s2 (s3, P3 @ 5) <- volume-V.s3 (active, empty)
 *
 * On the intact chain, deleting s2 commits (its dependant holds less) and deleting s1 pulls
 * (its file holds less than the dependant): checked first, so the matrix covers both merges.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ShareConfig } from '../../../../lib/core/config.js';
import { run } from '../../../../lib/core/process.js';
import { verifyPattern, writePattern } from '../../../../lib/qemu/img.js';
import { verifyTree } from '../../../../drivers/remotefs/chain-check.js';
import { fileIdentity } from '../../../../drivers/remotefs/file-identity.js';
import { readInfo, OWN_KEY, type VolumeTree } from '../../../../drivers/remotefs/info-file.js';
import { createShare } from '../../../../lib/shares/index.js';
import type { VolumeDriver, VolumeRef } from '../../../../drivers/contract/volume-driver.js';
import { createGlusterVolume } from '../../../fixtures/gluster.js';
import { shareListing } from '../../../fixtures/shares.js';
import { expectCode, GiB, makeHarness, type DriverHarness } from '../../../fixtures/drivers/harness.js';
import { HOSTILE_BACKINGS, type HostileKind } from '../../../fixtures/drivers/hostile.js';

const K64 = 64 * 1024;

/** What reproduction 4 lists beyond the backing names of hostile.ts. */
const MORE_KINDS: HostileKind[] = [
  {
    label: 'external data file with data_file_raw=on', code: 'IMAGE_DATA_FILE',
    make: (f, scratch, _v, n) => run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${path.join(scratch, `raw-${randomUUID()}`)},data_file_raw=on`, f, String(n)]).then(() => undefined),
  },
  { label: 'a 1 PiB virtual size', code: 'IMAGE_SIZE_MISMATCH', make: (f) => run('qemu-img', ['create', '-q', '-f', 'qcow2', f, '1P']).then(() => undefined) },
  {
    label: 'a header naming another own file than the info file records', code: 'IMAGE_UNSAFE_BACKING',
    make: (f, _s, v, n) => run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', `volume-${v}.${randomUUID()}`, '-F', 'qcow2', f, String(n)]).then(() => undefined),
  },
  { label: 'raw bytes where the info file records qcow2', code: 'IMAGE_FORMAT_MISMATCH', make: (f) => writeFile(f, Buffer.alloc(1024 * 1024)) },
  { label: 'a symlink to /etc/passwd', code: 'FILE_UNSAFE', make: (f) => symlink('/etc/passwd', f) },
];

/** The same inode rewritten in place (qemu-img rebase -u): only the ctime tells, the identity check must catch it. */
const IN_PLACE: HostileKind = {
  label: 'the file rewritten in place to back onto /etc/passwd', code: 'IMAGE_UNSAFE_BACKING',
  make: (f) => run('qemu-img', ['rebase', '-q', '-u', '-f', 'qcow2', '-b', '/etc/passwd', '-F', 'raw', f]).then(() => undefined),
};

const KINDS = [...HOSTILE_BACKINGS, ...MORE_KINDS, IN_PLACE];

interface Chain {
  vol: VolumeRef;
  /** Volumes an operation may have made (clone, create from snapshot): deleted with the chain. */
  made: string[];
  snaps: [string, string, string];
  /** file name by position */
  at: { active: string; middle: string; base: string };
}

function suite(label: string, makeShare: () => Promise<{ share: ShareConfig; teardown(): Promise<void> }>, body: (ctx: () => Ctx) => void): void {
  describe(`chain swapped under a volume (${label})`, function () {
    this.timeout(600_000);
    const ctx = {} as Ctx;
    let teardown: (() => Promise<void>) | undefined;
    before(async () => {
      const t = await makeShare();
      teardown = t.teardown;
      ctx.h = await makeHarness(t.share);
      ctx.driver = ctx.h.driver;
      ctx.dir = createShare(t.share, ctx.h.config.storage.mountBase).mountPoint;
      await ctx.driver.doSetup();
    });
    after(async () => {
      await teardown?.();
      await ctx.h?.cleanup();
    });
    body(() => ctx);
  });
}

interface Ctx {
  h: DriverHarness;
  driver: VolumeDriver;
  dir: string;
}

async function treeOf(c: Ctx, id: string): Promise<VolumeTree> {
  const t = (await readInfo(c.dir, id))?.tree;
  if (!t) throw new Error(`no tree for ${id}`);
  return t;
}

async function buildChain(c: Ctx): Promise<Chain> {
  const id = randomUUID();
  const created = await c.driver.createVolume({ id, sizeGiB: 1, format: 'qcow2' });
  const vol: VolumeRef = { id, sizeGiB: 1, providerLocation: created.providerLocation };
  const snaps = [randomUUID(), randomUUID(), randomUUID()] as [string, string, string];
  const active = async () => path.join(c.dir, (await treeOf(c, id)).active);
  await writePattern(await active(), 'qcow2', 1, 0, K64);
  await c.driver.createSnapshot({ id: snaps[0], volumeId: id }, vol);
  await writePattern(await active(), 'qcow2', 2, K64, 4 * K64);
  await c.driver.createSnapshot({ id: snaps[1], volumeId: id }, vol);
  await writePattern(await active(), 'qcow2', 3, 5 * K64, K64);
  await c.driver.createSnapshot({ id: snaps[2], volumeId: id }, vol);
  const t = await treeOf(c, id);
  return { vol, made: [], snaps, at: { active: t.active, middle: t.snapshots[snaps[1]]!.file, base: t.snapshots[snaps[0]]!.file } };
}

/** Every byte written reads back through the active file (and through s2's point). */
async function dataReadsBack(c: Ctx, ch: Chain): Promise<void> {
  const t = await treeOf(c, ch.vol.id);
  const top = path.join(c.dir, t.active);
  await verifyPattern(top, 'qcow2', 1, 0, K64);
  await verifyPattern(top, 'qcow2', 2, K64, 4 * K64);
  await verifyPattern(top, 'qcow2', 3, 5 * K64, K64);
  await verifyPattern(path.join(c.dir, t.snapshots[ch.snaps[1]]!.file), 'qcow2', 2, K64, 4 * K64);
}

/** Every offline operation that opens the chain (issue 11 item 4), each on its own. */
function operations(c: Ctx, ch: Chain): [string, () => Promise<unknown>][] {
  const { vol, snaps } = ch;
  const newId = () => { const id = randomUUID(); ch.made.push(id); return id; };
  return [
    ['snapshot create', () => c.driver.createSnapshot({ id: randomUUID(), volumeId: vol.id }, vol)],
    ['snapshot delete (commit)', () => c.driver.deleteSnapshot({ id: snaps[1], volumeId: vol.id }, vol)],
    ['snapshot delete (pull)', () => c.driver.deleteSnapshot({ id: snaps[0], volumeId: vol.id }, vol)],
    ['snapshot delete (newest)', () => c.driver.deleteSnapshot({ id: snaps[2], volumeId: vol.id }, vol)],
    ['revert', () => c.driver.revertToSnapshot(vol, { id: snaps[1], volumeId: vol.id })],
    ['extend', () => c.driver.extendVolume(vol, 3)],
    ['clone', () => c.driver.createClonedVolume({ id: newId(), sizeGiB: 4 }, vol)],
    ['create from snapshot', () => c.driver.createVolumeFromSnapshot({ id: newId(), sizeGiB: 4 }, { id: snaps[1], volumeId: vol.id }, vol)],
    ['attach (connection)', () => c.driver.initializeConnection(vol, { host: 'compute-1' })],
  ];
}

/** Swap `kind` in at `file`, check every operation refuses it leaving the share as it was, put the original back. */
async function swapAndRefuse(c: Ctx, ch: Chain, file: string, kind: HostileKind): Promise<void> {
  const abs = path.join(c.dir, file);
  // Beside it (a rename across file systems fails): no volume's name, so no operation touches it.
  const saved = path.join(c.dir, `saved-${randomUUID()}`);
  if (kind === IN_PLACE) await copyFile(abs, saved);
  else await rename(abs, saved);
  await kind.make(abs, c.h.scratch, ch.vol.id, GiB);
  const before = await shareListing(c.dir);
  for (const [name, op] of operations(c, ch)) {
    await expectCode(op(), kind.code).catch((err: Error) => { throw new Error(`${name} with ${kind.label} at ${file}: ${err.message}`); });
    expect(await shareListing(c.dir), `${name} changed the share`).to.deep.equal(before);
  }
  await unlink(abs);
  await rename(saved, abs);
}

suite('local directory', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'chain-swap-'));
  return { share: { type: 'local', address: path.join(tmp, 'share0'), mountOptions: [], backupVolfileServers: [] }, teardown: () => rm(tmp, { recursive: true, force: true }) };
}, (get) => {
  let chains: Chain[] = [];
  afterEach(async () => {
    for (const ch of chains) {
      for (const id of [ch.vol.id, ...ch.made]) await get().driver.deleteVolume({ id, sizeGiB: 1, providerLocation: null, attachment: null });
    }
    chains = [];
  });
  const chain = async () => { const ch = await buildChain(get()); chains.push(ch); return ch; };

  it('on the intact chain every operation runs: delete of s2 commits, delete of s1 pulls; frozen files carry identities', async () => {
    const c = get();
    const ch = await chain();
    const t = await treeOf(c, ch.vol.id);
    for (const f of [ch.at.base, ch.at.middle, t.snapshots[ch.snaps[2]]!.file]) expect(t.files[f]?.identity, f).to.be.a('string');
    expect(t.files[t.active]?.identity).to.equal(undefined);
    for (const [name, op] of operations(c, ch).filter(([n]) => !n.startsWith('snapshot delete') && n !== 'revert')) {
      await op().catch((err: Error) => { throw new Error(`${name}: ${err.message}`); });
    }
    expect(ch.made).to.have.length(2);
    for (const id of ch.made) expect((await readInfo(c.dir, id))?.tree, `volume ${id} made`).to.not.equal(undefined);
    await dataReadsBack(c, ch);
    // commit: S's file (the middle) survives, its dependant goes
    const dependantOfMiddle = t.snapshots[ch.snaps[2]]!.file;
    await c.driver.deleteSnapshot({ id: ch.snaps[1], volumeId: ch.vol.id }, ch.vol);
    let names = await readdir(c.dir);
    expect(names).to.include(ch.at.middle);
    expect(names).to.not.include(dependantOfMiddle);
    // pull: S's file (the base) goes, its dependant (the middle) survives
    await c.driver.deleteSnapshot({ id: ch.snaps[0], volumeId: ch.vol.id }, ch.vol);
    names = await readdir(c.dir);
    expect(names).to.not.include(ch.at.base);
    expect(names).to.include(ch.at.middle);
    const top = path.join(c.dir, (await treeOf(c, ch.vol.id)).active);
    await verifyPattern(top, 'qcow2', 1, 0, K64);
    await verifyPattern(top, 'qcow2', 2, K64, 4 * K64);
    await verifyPattern(top, 'qcow2', 3, 5 * K64, K64);
  });

  for (const kind of KINDS) {
    it(`${kind.label}: refused by every operation at the active file, a middle frozen file and the base (${kind.code}); put back, the data reads and operations run`, async () => {
      const c = get();
      const ch = await chain();
      for (const pos of ['active', 'middle', 'base'] as const) {
        await swapAndRefuse(c, ch, ch.at[pos], kind);
        await dataReadsBack(c, ch);
      }
      // The files put back are other inodes (or a newer ctime): their headers are read and
      // found right, so operations run again.
      await c.driver.createSnapshot({ id: randomUUID(), volumeId: ch.vol.id }, ch.vol);
      await dataReadsBack(c, ch);
    });
  }

  it('flat in depth: frozen files whose identity matches are not read by header; a frozen file rewritten with a sane header is read once and re-recorded', async () => {
    const c = get();
    const ch = await chain();
    const tree = await treeOf(c, ch.vol.id);
    const first = await verifyTree(c.dir, tree, []);
    expect([...first.inspections.keys()]).to.deep.equal([tree.active]);
    expect(first.recorded).to.equal(false);
    expect([...first.identities.keys()].sort()).to.deep.equal(Object.keys(tree.files).sort());
    // The same backing written again in place: a new ctime, a header that is right.
    await run('qemu-img', ['rebase', '-q', '-u', '-f', 'qcow2', '-b', ch.at.base, '-F', 'qcow2', path.join(c.dir, ch.at.middle)]);
    const second = await verifyTree(c.dir, tree, []);
    expect([...second.inspections.keys()].sort()).to.deep.equal([tree.active, ch.at.middle].sort());
    expect(second.recorded).to.equal(true);
    expect(second.tree.files[ch.at.middle]?.identity).to.not.equal(tree.files[ch.at.middle]?.identity);
    // A delete reads the snapshot's file and its dependant by their headers, whatever their identities.
    const third = await verifyTree(c.dir, second.tree, [ch.at.base, ch.at.middle]);
    expect([...third.inspections.keys()].sort()).to.deep.equal([tree.active, ch.at.base, ch.at.middle].sort());
    expect(third.recorded).to.equal(false);
  });

  it('a frozen file rewritten in place AND its identity forged in the info file (fresh lstat fields of the hostile file): refused by every operation', async () => {
    const c = get();
    const ch = await chain();
    const infoPath = path.join(c.dir, `volume-${ch.vol.id}.info`);
    const original = await readFile(infoPath, 'utf8');
    const abs = path.join(c.dir, ch.at.middle);
    const saved = path.join(c.dir, `saved-${randomUUID()}`);
    await copyFile(abs, saved);
    await IN_PLACE.make(abs, c.h.scratch, ch.vol.id, GiB);
    // What someone who writes the share can compute: the file's own lstat fields, spliced into
    // the recorded identity (whatever else it carries is copied as it was).
    const raw = JSON.parse(original) as Record<string, VolumeTree>;
    const rec = raw[OWN_KEY]!.files[ch.at.middle]!;
    const fresh = fileIdentity(c.dir, ch.at.middle)!;
    rec.identity = [...fresh.split('.'), ...rec.identity!.split('.').slice(3)].join('.');
    await writeFile(infoPath, JSON.stringify(raw, null, 2));
    const before = await shareListing(c.dir);
    for (const [name, op] of operations(c, ch)) {
      await expectCode(op(), IN_PLACE.code).catch((err: Error) => { throw new Error(`${name} with a forged identity: ${err.message}`); });
      expect(await shareListing(c.dir), `${name} changed the share`).to.deep.equal(before);
    }
    await unlink(abs);
    await rename(saved, abs);
    await writeFile(infoPath, original);
    await dataReadsBack(c, ch);
  });

  it('an info file written before identities existed: headers read once, identities recorded by the next operation, a rewritten frozen file refused', async () => {
    const c = get();
    const ch = await chain();
    const infoPath = path.join(c.dir, `volume-${ch.vol.id}.info`);
    const strip = async () => {
      const raw = JSON.parse(await readFile(infoPath, 'utf8')) as Record<string, VolumeTree>;
      for (const f of Object.values(raw[OWN_KEY]!.files)) delete f.identity;
      await writeFile(infoPath, JSON.stringify(raw, null, 2));
    };
    await strip();
    await swapAndRefuse(c, ch, ch.at.middle, IN_PLACE);
    await strip();
    await c.driver.extendVolume(ch.vol, 2);
    const t = await treeOf(c, ch.vol.id);
    for (const f of [ch.at.base, ch.at.middle]) expect(t.files[f]?.identity, f).to.be.a('string');
    await swapAndRefuse(c, ch, ch.at.base, IN_PLACE);
    await dataReadsBack(c, ch);
  });
});

suite('GlusterFS (FUSE)', async () => {
  const vol = await createGlusterVolume();
  return { share: { type: 'glusterfs', address: vol.address, mountOptions: [], backupVolfileServers: [] }, teardown: () => vol.destroy() };
}, (get) => {
  it('a frozen middle file rewritten in place and one replaced by a /etc/passwd-backed image are refused by every operation; put back, the data reads', async () => {
    const c = get();
    const ch = await buildChain(c);
    try {
      await swapAndRefuse(c, ch, ch.at.middle, IN_PLACE);
      await swapAndRefuse(c, ch, ch.at.middle, HOSTILE_BACKINGS[0]!);
      await dataReadsBack(c, ch);
      await c.driver.createSnapshot({ id: randomUUID(), volumeId: ch.vol.id }, ch.vol);
    } finally {
      for (const id of [ch.vol.id, ...ch.made]) await c.driver.deleteVolume({ id, sizeGiB: 1, providerLocation: null, attachment: null });
    }
  });
});
