/**
 * The collectible-hidden sweep's memory of fruitless looks (hidden-look-memory.ts): a volume whose
 * rows are unchanged since a look that found nothing to collect is not read again until the
 * refresh bound; any change of a row, or the bound passing, makes the next sweep read its tree.
 */
import { expect } from 'chai';
import type { ServiceDeps } from '../../../../../src/api/context.js';
import { collectLeftHidden } from '../../../../../src/api/usecases/collectible-hidden.js';
import { HIDDEN_LOOK_REFRESH_MS, HiddenLookMemory, lookKey } from '../../../../../src/api/usecases/hidden-look-memory.js';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);

describe('collectible-hidden: the sweep reads a tree again only when its rows changed or the refresh bound passed', () => {
  // Volume v: hidden h with two dependants (s and the active file): nothing to collect.
  const vol = { id: 'v', status: 'available', updatedAt: at(0), sizeGiB: 1, providerLocation: 'x', format: 'qcow2' };
  const rows = [
    { id: 'h', status: 'available', hidden: true, updatedAt: at(1) },
    { id: 's', status: 'available', hidden: false, updatedAt: at(2) },
  ];
  const tree = {
    snapshots: [
      { id: 'h', ownedFile: 'volume-v.h', parent: null, hidden: true, sizeBytes: 1, createdAt: '2026-01-01T00:00:00Z', settled: true },
      { id: 's', ownedFile: 'volume-v.s', parent: 'h', hidden: false, sizeBytes: 1, createdAt: '2026-01-01T00:00:01Z', settled: true },
    ],
    activeParent: 'h', intent: null,
  };
  let reads = 0;
  const deps = {
    repos: {
      snapshots: { volumeIdsWithHidden: async () => ['v'], ofVolume: async () => rows, get: async () => null },
      volumes: { get: async () => vol },
      attachments: { activeOf: async () => [] },
    },
    driver: { getSnapshotTree: async () => { reads++; return tree; } },
    log: { info: () => undefined, warn: () => undefined },
  } as unknown as ServiceDeps;

  it('reads once, skips while nothing changed, reads again after a row changed and after the bound', async () => {
    const memory = new HiddenLookMemory();
    let now = 1_000;
    const clock = () => now;
    expect(await collectLeftHidden(deps, memory, clock)).to.deep.equal([]);
    expect(reads, 'the first look reads the tree').to.equal(1);
    now += 60_000;
    await collectLeftHidden(deps, memory, clock);
    expect(reads, 'rows unchanged: not read again').to.equal(1);
    rows[1] = { ...rows[1]!, status: 'deleting', updatedAt: at(3) };
    await collectLeftHidden(deps, memory, clock);
    expect(reads, 'a snapshot row changed: read again').to.equal(2);
    vol.updatedAt = at(4);
    await collectLeftHidden(deps, memory, clock);
    expect(reads, 'the volume row changed: read again').to.equal(3);
    now += HIDDEN_LOOK_REFRESH_MS;
    await collectLeftHidden(deps, memory, clock);
    expect(reads, 'the refresh bound passed: read again').to.equal(4);
    await collectLeftHidden(deps, new HiddenLookMemory(), clock);
    expect(reads, 'a fresh memory (a restarted process) reads every tree').to.equal(5);
  });

  it('the key follows every row\'s status, hidden flag and update time, not the rows\' order', () => {
    const base = lookKey({ status: 'available', updatedAt: at(0) }, [
      { id: 'a', status: 'available', hidden: true, updatedAt: at(1) }, { id: 'b', status: 'available', hidden: false, updatedAt: at(2) },
    ]);
    expect(lookKey({ status: 'available', updatedAt: at(0) }, [
      { id: 'b', status: 'available', hidden: false, updatedAt: at(2) }, { id: 'a', status: 'available', hidden: true, updatedAt: at(1) },
    ])).to.equal(base);
    for (const changed of [
      lookKey({ status: 'in-use', updatedAt: at(0) }, [{ id: 'a', status: 'available', hidden: true, updatedAt: at(1) }, { id: 'b', status: 'available', hidden: false, updatedAt: at(2) }]),
      lookKey({ status: 'available', updatedAt: at(0) }, [{ id: 'a', status: 'available', hidden: false, updatedAt: at(1) }, { id: 'b', status: 'available', hidden: false, updatedAt: at(2) }]),
      lookKey({ status: 'available', updatedAt: at(0) }, [{ id: 'a', status: 'available', hidden: true, updatedAt: at(1) }]),
    ]) expect(changed).to.not.equal(base);
  });
});
