/**
 * The consistency checker's comparison (pure): a clean set of facts gives no divergence, and each
 * single disagreement gives exactly its code, with the repair the rules allow.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { compareFacts, expectedChain } from '../../../../src/api/check/compare.js';
import { DIVERGENCE_CODES, type Divergence } from '../../../../src/api/check/divergence.js';
import type { CheckFacts, TreeFact, VolumeStorageFact } from '../../../../src/api/check/facts.js';

const GiB = 1024 ** 3;
const V = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const W = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const S1 = '11111111-1111-4111-8111-111111111111';
const S2 = '22222222-2222-4222-8222-222222222222';
const OP = '33333333-3333-4333-8333-333333333333';
const base = `volume-${V}`;
const o1 = `${base}.${S1}`;
const o2 = `${base}.${S2}`;
const SHARE = 'host:/share';

/** volume-V <- volume-V.S1 <- volume-V.S2 (active); S1 owns volume-V, S2 owns volume-V.S1. */
function cleanTree(): TreeFact {
  return {
    active: o2, sizeBytes: GiB, intent: null,
    files: { [base]: { format: 'qcow2', backing: null }, [o1]: { format: 'qcow2', backing: base }, [o2]: { format: 'qcow2', backing: o1 } },
    snapshots: { [S1]: { id: S1, file: base, hidden: false, sizeBytes: GiB }, [S2]: { id: S2, file: o1, hidden: false, sizeBytes: GiB } },
  };
}

function cleanStorage(tree: TreeFact = cleanTree()): VolumeStorageFact {
  const images: VolumeStorageFact['images'] = {};
  for (const [f, t] of Object.entries(tree.files)) images[f] = { format: t.format, backing: t.backing, virtualSize: GiB, check: { leaks: 0, corruptions: 0, errors: 0 } };
  return { volumeId: V, share: SHARE, names: [...Object.keys(tree.files), `${base}.info`].sort(), tree, images };
}

function clean(): CheckFacts {
  return {
    volumeId: null,
    unplugPendingBoundMs: 300_000,
    db: {
      volumes: [{ id: V, status: 'available', attachStatus: 'detached', sizeGiB: 1, providerLocation: SHARE }],
      snapshots: [{ id: S1, volumeId: V, status: 'available', hidden: false }, { id: S2, volumeId: V, status: 'available', hidden: false }],
      operations: [], attachments: [], leased: [],
    },
    storage: { shares: [{ address: SHARE, mounted: true }], volumes: [cleanStorage()], hosts: [] },
  };
}

function vstore(f: CheckFacts): VolumeStorageFact {
  return f.storage.volumes[0] as VolumeStorageFact;
}
function vtree(f: CheckFacts): TreeFact {
  return vstore(f).tree as TreeFact;
}
function attach(f: CheckFacts, activeFile = o2): void {
  f.db.volumes[0]!.status = 'in-use';
  f.db.volumes[0]!.attachStatus = 'attached';
  f.db.attachments.push({ id: 'att-1', volumeId: V, instanceUuid: 'inst-1', host: 'compute-1', activeFile, status: 'attached' });
}
const codes = (ds: Divergence[]) => ds.map((d) => d.code).sort();
const only = (f: CheckFacts) => {
  const r = compareFacts(f);
  return r.divergences;
};

describe('consistency check: the comparison (pure)', () => {
  it('a clean state gives no divergence', () => {
    expect(compareFacts(clean())).to.deep.equal({ divergences: [], busy: [] });
  });

  it('a clean attached volume whose host reports the info file\'s chain gives none', () => {
    const f = clean();
    attach(f);
    f.storage.hosts.push({ volumeId: V, instanceUuid: 'inst-1', host: 'compute-1', chain: [o2, o1, null], running: true });
    expect(only(f)).to.deep.equal([]);
  });

  it('GHOST_SNAPSHOT: a row (hidden too) the info file does not record; dropped only when no operation runs', () => {
    const f = clean();
    delete vtree(f).snapshots[S1];
    f.db.snapshots[0]!.hidden = true;
    const [d] = only(f);
    expect(d).to.include({ code: 'GHOST_SNAPSHOT', volumeId: V, snapshotId: S1, repair: 'drop_ghost_row' });
    f.db.operations.push({ id: OP, kind: 'delete_snapshot', volumeId: V, snapshotId: S2 });
    expect(only(f).find((x) => x.code === 'GHOST_SNAPSHOT')?.repair).to.equal(null);
  });

  it('MISSING_SNAPSHOT_ROW: the info file records a snapshot without a row; for an admin', () => {
    const f = clean();
    f.db.snapshots.pop();
    expect(only(f)).to.have.length(1).and.to.satisfy((ds: Divergence[]) => ds[0]?.code === 'MISSING_SNAPSHOT_ROW' && ds[0].snapshotId === S2 && ds[0].repair === null);
  });

  it('ORPHAN_FILE: a name of the volume neither the tree nor the intent names; removed unless attached', () => {
    const f = clean();
    const orphan = `${base}.${OP}`;
    const temp = `.${base}.${S1}.tmp`;
    vstore(f).names.push(orphan, temp);
    expect(only(f).map((d) => [d.code, d.file, d.repair])).to.deep.equal([['ORPHAN_FILE', orphan, 'remove_orphan'], ['ORPHAN_FILE', temp, 'remove_orphan']]);
    attach(f);
    expect(only(f).every((d) => d.code === 'ORPHAN_FILE' && d.repair === null)).to.equal(true);
  });

  it('a file the intent names is no orphan (but the intent nobody finishes is reported)', () => {
    const f = clean();
    const pending = `${base}.${OP}`;
    vstore(f).names.push(pending);
    vtree(f).intent = { kind: 'create_snapshot', snapshotId: OP, files: [pending] };
    expect(codes(only(f))).to.deep.equal(['UNFINISHED_INTENT']);
    expect(only(f)[0]?.repair).to.equal('settle');
  });

  it('MISSING_FILE: a tree file not on the share; a volume row with no files; no info file', () => {
    const f = clean();
    vstore(f).names = vstore(f).names.filter((n) => n !== o1);
    delete vstore(f).images[o1];
    expect(only(f).map((d) => [d.code, d.file])).to.deep.equal([['MISSING_FILE', o1]]);
    const g = clean();
    g.storage.volumes = [];
    expect(codes(only(g))).to.deep.equal(['MISSING_FILE']);
    const h = clean();
    vstore(h).tree = null;
    expect(codes(only(h))).to.deep.equal(['MISSING_FILE']);
  });

  it('no files is no divergence for a volume still creating (with its operation) or in error after a failed create', () => {
    const f = clean();
    f.storage.volumes = [];
    f.db.snapshots = [];
    f.db.volumes[0]!.status = 'creating';
    f.db.operations.push({ id: OP, kind: 'create_volume', volumeId: V, snapshotId: null });
    f.db.leased.push(V);
    expect(compareFacts(f)).to.deep.equal({ divergences: [], busy: [V] });
    const g = clean();
    g.storage.volumes = [];
    g.db.snapshots = [];
    g.db.volumes[0]!.status = 'error';
    expect(codes(only(g))).to.deep.equal(['STATUS_MISMATCH']);
  });

  it('INFO_FILE_CORRUPT: unreadable or foreign info file', () => {
    const f = clean();
    vstore(f).tree = { error: 'INFO_FILE_CORRUPT: not JSON' };
    expect(codes(only(f))).to.deep.equal(['INFO_FILE_CORRUPT']);
    vstore(f).tree = 'foreign';
    expect(codes(only(f))).to.deep.equal(['INFO_FILE_CORRUPT']);
  });

  it('UNKNOWN_VOLUME: files of a volume without a row', () => {
    const f = clean();
    f.storage.volumes.push({ volumeId: W, share: SHARE, names: [`volume-${W}`], tree: null, images: {} });
    expect(only(f).map((d) => [d.code, d.volumeId, d.repair])).to.deep.equal([['UNKNOWN_VOLUME', W, null]]);
  });

  it('LEAKED_CLUSTERS: repaired with -r leaks when detached; for an admin when attached', () => {
    const f = clean();
    vstore(f).images[o1]!.check = { leaks: 3, corruptions: 0, errors: 0 };
    expect(only(f).map((d) => [d.code, d.file, d.repair])).to.deep.equal([['LEAKED_CLUSTERS', o1, 'repair_leaks']]);
    attach(f);
    f.storage.hosts.push({ volumeId: V, instanceUuid: 'inst-1', host: 'compute-1', chain: [o2], running: true });
    expect(only(f).map((d) => [d.code, d.repair])).to.deep.equal([['LEAKED_CLUSTERS', null]]);
  });

  it('IMAGE_CORRUPT: corruptions, check errors or an image that could not be read; never repaired', () => {
    for (const img of [
      { format: 'qcow2', backing: null, virtualSize: GiB, check: { leaks: 2, corruptions: 1, errors: 0 } },
      { format: 'qcow2', backing: null, virtualSize: GiB, check: { leaks: 0, corruptions: 0, errors: 1 } },
      { format: 'unknown', backing: null, virtualSize: 0, error: 'PROCESS_FAILED: timed out' },
    ]) {
      const f = clean();
      vstore(f).images[base] = img;
      expect(only(f).map((d) => [d.code, d.file, d.repair])).to.deep.equal([['IMAGE_CORRUPT', base, null]]);
    }
  });

  it('HEADER_MISMATCH: backing name, format or size against the info file', () => {
    const cases: [string, Partial<VolumeStorageFact['images'][string]>][] = [
      [o2, { backing: base }], [o1, { backing: null }], [base, { format: 'raw', check: undefined }], [o2, { virtualSize: 2 * GiB }], [base, { virtualSize: 2 * GiB }],
    ];
    for (const [file, change] of cases) {
      const f = clean();
      vstore(f).images[file] = { ...vstore(f).images[file]!, ...change };
      expect(only(f).map((d) => [d.code, d.file])).to.deep.equal([['HEADER_MISMATCH', file]]);
    }
  });

  it('after an extend only the active file carries the new size: snapshot files keep their own', () => {
    const f = clean();
    vtree(f).sizeBytes = 2 * GiB;
    f.db.volumes[0]!.sizeGiB = 2;
    vstore(f).images[o2]!.virtualSize = 2 * GiB;
    expect(only(f)).to.deep.equal([]);
  });

  it('SIZE_MISMATCH and LOCATION_MISMATCH', () => {
    const f = clean();
    f.db.volumes[0]!.sizeGiB = 2;
    f.db.volumes[0]!.providerLocation = 'other:/share';
    expect(codes(only(f))).to.deep.equal(['LOCATION_MISMATCH', 'SIZE_MISMATCH']);
  });

  it('STUCK_OPERATION: running with nobody holding the lease; the same with the lease held is busy, not compared', () => {
    const f = clean();
    f.db.operations.push({ id: OP, kind: 'delete_snapshot', volumeId: V, snapshotId: S2 });
    f.db.snapshots[1]!.status = 'deleting';
    expect(only(f).map((d) => [d.code, d.operationId, d.repair])).to.deep.equal([['STUCK_OPERATION', OP, 'settle']]);
    f.db.leased.push(V);
    expect(compareFacts(f)).to.deep.equal({ divergences: [], busy: [V] });
  });

  it('STATUS_MISMATCH: transitional or error statuses without an operation, in-use without attachment, available while attached, hidden flags', () => {
    const statuses: [string, (f: CheckFacts) => void][] = [
      ['volume extending', (f) => { f.db.volumes[0]!.status = 'extending'; }],
      ['volume error_deleting', (f) => { f.db.volumes[0]!.status = 'error_deleting'; }],
      ['in-use, no attachment', (f) => { f.db.volumes[0]!.status = 'in-use'; }],
      ['available, attached', (f) => { attach(f); f.db.volumes[0]!.status = 'available'; f.storage.hosts.push({ volumeId: V, instanceUuid: 'inst-1', host: 'compute-1', chain: [o2], running: true }); }],
      ['snapshot deleting', (f) => { f.db.snapshots[0]!.status = 'deleting'; }],
      ['snapshot error', (f) => { f.db.snapshots[0]!.status = 'error'; }],
      ['hidden flag', (f) => { vtree(f).snapshots[S1]!.hidden = true; }],
    ];
    for (const [what, change] of statuses) {
      const f = clean();
      change(f);
      expect(codes(only(f)), what).to.deep.equal(['STATUS_MISMATCH']);
    }
  });

  it('ATTACHMENT_MISMATCH: the attachment\'s active file, or the live chain, differs from the info file', () => {
    const f = clean();
    attach(f, o1);
    expect(only(f).map((d) => [d.code, d.file])).to.deep.equal([['ATTACHMENT_MISMATCH', o1]]);
    const g = clean();
    attach(g);
    g.storage.hosts.push({ volumeId: V, instanceUuid: 'inst-1', host: 'compute-1', chain: [o1, base], running: false });
    expect(codes(only(g))).to.deep.equal(['ATTACHMENT_MISMATCH']);
    const h = clean();
    attach(h);
    h.storage.hosts.push({ volumeId: V, instanceUuid: 'inst-1', host: 'compute-1', chain: [o2, o1, base, `${base}.x`], running: true });
    expect(codes(only(h))).to.deep.equal(['ATTACHMENT_MISMATCH']);
  });

  it('ATTACH_UNSETTLED: an attachment left attaching past the settle grace (not one within it)', () => {
    const f = clean();
    f.db.volumes[0]!.status = 'attaching';
    f.db.volumes[0]!.attachStatus = 'attaching';
    f.db.attachments.push({ id: 'att-1', volumeId: V, instanceUuid: 'inst-1', host: 'compute-1', activeFile: o2, status: 'attaching' });
    expect(codes(only(f)), 'an attach may still run').to.deep.equal([]);
    (f.db.attachments[0] as { stale?: boolean }).stale = true;
    const [d] = only(f);
    expect([d?.code, d?.repair]).to.deep.equal(['ATTACH_UNSETTLED', 'settle']);
    expect(d?.action).to.include('/v3/attachments/att-1');
  });

  it('UNREACHABLE_HOST: the coordinator did not answer (a divergence, not a crash)', () => {
    const f = clean();
    attach(f);
    f.storage.hosts.push({ volumeId: V, instanceUuid: 'inst-1', host: 'compute-1', error: 'COORDINATOR_UNAVAILABLE: connect ECONNREFUSED' });
    expect(only(f).map((d) => [d.code, d.repair])).to.deep.equal([['UNREACHABLE_HOST', null]]);
  });

  it('DISK_NOT_IN_GUEST: the host answered that the guest has no disk of the volume (not an unreachable host); settled by the passes', () => {
    const f = clean();
    attach(f);
    f.storage.hosts.push({ volumeId: V, instanceUuid: 'inst-1', host: 'compute-1', absent: true });
    expect(only(f).map((d) => [d.code, d.repair])).to.deep.equal([['DISK_NOT_IN_GUEST', 'settle']]);
  });

  it('UNPLUG_PENDING: an unplug the guest ignored past the bound, with the admin action; younger ones and hosts that do not say are no divergence', () => {
    const pending = (ms?: number) => {
      const f = clean();
      attach(f);
      f.storage.hosts.push({ volumeId: V, instanceUuid: 'inst-1', host: 'compute-1', chain: [o2, o1, base], running: true, ...(ms === undefined ? {} : { unplugPendingMs: ms }) });
      return only(f);
    };
    expect(pending()).to.deep.equal([]);
    expect(pending(299_999)).to.deep.equal([]);
    const [d, ...rest] = pending(300_000);
    expect(rest).to.deep.equal([]);
    expect(d).to.deep.include({ code: 'UNPLUG_PENDING', volumeId: V, repair: null });
    expect(d!.message).to.match(/inst-1 on compute-1/).and.match(/300 s/);
    expect(d!.action).to.match(/retry the detach/).and.match(/reboot the guest/).and.match(/power it off/);
  });

  it('UNPLUG_PENDING is reported beside a chain mismatch, never instead of it', () => {
    const f = clean();
    attach(f);
    f.storage.hosts.push({ volumeId: V, instanceUuid: 'inst-1', host: 'compute-1', chain: [o1, base], running: true, unplugPendingMs: 3_600_000 });
    expect(codes(only(f))).to.deep.equal(['ATTACHMENT_MISMATCH', 'UNPLUG_PENDING']);
  });

  it('SHARE_UNAVAILABLE: an unmounted share; its volumes are not reported missing', () => {
    const f = clean();
    f.storage.shares[0]!.mounted = false;
    f.storage.volumes = [];
    expect(codes(only(f))).to.deep.equal(['SHARE_UNAVAILABLE']);
  });

  it('a volume scope compares that volume only', () => {
    const f = clean();
    f.storage.volumes.push({ volumeId: W, share: SHARE, names: [`volume-${W}`], tree: null, images: {} });
    f.volumeId = V;
    expect(only(f)).to.deep.equal([]);
    f.volumeId = W;
    expect(codes(only(f))).to.deep.equal(['UNKNOWN_VOLUME']);
  });

  it('every code reported has an entry in the code table, and every divergence carries a message and an action when not repaired', () => {
    const f = clean();
    f.db.snapshots.push({ id: OP, volumeId: V, status: 'available', hidden: false });
    vstore(f).names.push(`${base}.${OP}`);
    for (const d of only(f)) {
      expect(Object.keys(DIVERGENCE_CODES)).to.include(d.code);
      expect(d.message).to.be.a('string').and.not.equal('');
      expect(d.action).to.be.a('string');
    }
  });

  it('expectedChain walks the backing files from the active one and stops on a loop', () => {
    expect(expectedChain(cleanTree())).to.deep.equal([o2, o1, base]);
    const loop = cleanTree();
    loop.files[base] = { format: 'qcow2', backing: o2 };
    expect(expectedChain(loop)).to.deep.equal([o2, o1, base]);
  });
});

describe('consistency check: the README table of divergence codes', () => {
  it('documents every code, and nothing else', () => {
    const section = readFileSync('README.md', 'utf8').split('## Consistency check')[1]?.split('\n## ')[0] ?? '';
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).to.deep.equal(Object.keys(DIVERGENCE_CODES).sort());
  });
});
