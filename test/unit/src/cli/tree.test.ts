import { expect } from 'chai';
import { renderTree, type TreeView } from '../../../../src/cli/render.js';

const MiB = 1024 * 1024;

describe('cli tree rendering: allocated sizes and dates', () => {
  const measured: TreeView = {
    snapshots: [
      { id: 's1', parent: null, name: 'base', hidden: false, size: 1, status: 'available', created_at: '2026-12-01T10:15:30.000Z', allocated_size: 12.5 * MiB },
      { id: 's2', parent: 's1', name: null, hidden: true, size: 2, status: null, created_at: '2026-12-02T08:00:00.000Z', allocated_size: 0 },
      { id: 's3', parent: 's1', name: 'b', hidden: false, size: 1, status: 'available', created_at: null, allocated_size: null },
    ],
    active_parent: 's2', active_file: 'volume-v.a1', active_allocated_size: 3 * MiB,
  };

  it('shows each snapshot with its allocated size and date, and the active file with its own', () => {
    expect(renderTree(measured).split('\n')).to.deep.equal([
      '└─ s1 base 1 GiB (allocated 12.5 MiB) 2026-12-01 10:15 available',
      '   ├─ s2 [hidden] 2 GiB (allocated 0 B) 2026-12-02 08:00',
      '   │  └─ * active: volume-v.a1 (allocated 3.0 MiB)',
      '   └─ s3 b 1 GiB available',
    ]);
  });

  it('leaves out what the answer lacks (an older service, an unmeasured file) instead of showing zero', () => {
    const older: TreeView = {
      snapshots: measured.snapshots.map(({ allocated_size: _a, created_at: _c, ...s }) => s),
      active_parent: 's2', active_file: 'volume-v.a1',
    };
    expect(renderTree(older).split('\n')).to.deep.equal([
      '└─ s1 base 1 GiB available',
      '   ├─ s2 [hidden] 2 GiB',
      '   │  └─ * active: volume-v.a1',
      '   └─ s3 b 1 GiB available',
    ]);
    expect(renderTree({ ...older, active_allocated_size: null })).to.not.include('allocated');
  });

  it('an empty tree is the active file alone', () => {
    expect(renderTree({ snapshots: [], active_parent: null, active_file: 'volume-v', active_allocated_size: 196_608 })).to.equal('└─ * active: volume-v (allocated 192.0 KiB)');
  });
});
