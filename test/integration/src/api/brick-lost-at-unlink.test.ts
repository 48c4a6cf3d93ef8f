/**
 * Issue 12, the open bug of the fault campaign: a GlusterFS brick lost at a merge's final unlink
 * (the info file already written, the victim's unlink fails with ENOTCONN) used to leave the
 * merged-away file on the share for good: the periodic passes only reconcile volumes whose info
 * file still records an intent, and there was none. Now the merge's last info write keeps an
 * intent at step `unlink` naming the victim; once the brick is back, the periodic ghost-snapshot
 * pass reconciles the volume, which removes exactly that file (never one the tree names) and
 * clears the intent; the delete's `error_deleting` row is then recorded deleted. No restart, no
 * `check --repair`. Both deletes fail with SHARE_UNAVAILABLE (503), not INTERNAL: the share's
 * errno (ENOTCONN) has its own code, and a lookup that cannot reach the share says so instead of
 * concluding that the volume has no files (VOLUME_NOT_FOUND, before).
 *
 * Real components: a single-brick GlusterFS volume (the brick process SIGKILLed from the engine's
 * step hook, synchronously, before the unlink), the storage service with the RemoteFS driver on
 * SQLite, qemu-io for the byte patterns.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type supertest from 'supertest';
import { type ShareConfig } from '../../../../lib/core/config.js';
import { createShare } from '../../../../lib/shares/index.js';
import { repairGhostSnapshots } from '../../../../src/api/usecases/ghost-snapshots.js';
import { STEPS, setStepHook } from '../../../../drivers/remotefs/snapshots/hooks.js';
import { readInfo } from '../../../../drivers/remotefs/info-file.js';
import { brickState, restartBrick } from '../../../../bench/campaign/faults.js';
import { verifyImage, writeBlocks, written, type Image } from '../../../../bench/campaign/image-model.js';
import { assertConsistent } from '../../../fixtures/consistency.js';
import type { GlusterVolume } from '../../../fixtures/gluster.js';
import { BACKENDS, auth, eventually, remotefsServiceHooks, type RemotefsService } from '../../../fixtures/api/harness.js';

describe('a GlusterFS brick lost during a snapshot delete converges without a human', function () {
  this.timeout(600_000);
  let gv: GlusterVolume;
  let svc: RemotefsService['svc'];
  let http: ReturnType<typeof supertest>;
  let shareDir: string;

  const status = async (kind: 'volumes' | 'snapshots', id: string, want: string) => eventually(async () => {
    const r = await http.get(`/v3/${kind}/${id}`).set(auth('admin'));
    return r.body[kind === 'volumes' ? 'volume' : 'snapshot']?.status === want ? true : undefined;
  }, 120_000);
  const activeOf = async (vid: string) => path.join(shareDir, (await readInfo(shareDir, vid))?.tree?.active as string);

  // Registered first, so that it runs first: no step hook left when the service stops.
  after(() => setStepHook(null));
  // No periodic sweep of its own (the hooks' default): the test runs the pass itself, after the brick is back.
  remotefsServiceHooks(BACKENDS[0] as (typeof BACKENDS)[number], 'qcs-brick-unlink-', (s) => {
    ({ svc, http } = s);
    gv = s.gluster as GlusterVolume;
    shareDir = createShare(svc.deps.config.storage.shares[0] as ShareConfig, svc.deps.config.storage.mountBase).mountPoint;
  }, { shares: [], glusterfs: true });

  it('the victim is unlinked by the periodic pass once the brick is back; rows, info file and share agree', async () => {
    const vid = (await http.post('/v3/volumes').set(auth('admin')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await status('volumes', vid, 'available');
    let image: Image = new Map();
    const points: { sid: string; image: Image }[] = [];
    for (const [start, count, pattern] of [[0, 8, 0x31], [4, 2, 0x42]] as const) {
      await writeBlocks(await activeOf(vid), start, count, pattern);
      image = written(image, start, count, pattern);
      const sid = (await http.post('/v3/snapshots').set(auth('admin')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
      await status('snapshots', sid, 'available');
      points.push({ sid, image });
    }
    await writeBlocks(await activeOf(vid), 6, 1, 0x53);
    image = written(image, 6, 1, 0x53);
    const before = new Set(await readdir(shareDir));

    const pid = await brickState(gv.name, gv.brick, true) as number;
    let struck = false;
    setStepHook((step) => {
      if (step !== STEPS.mergeInfoWritten || struck) return;
      struck = true;
      // Synchronously: the brick is gone before the engine's unlink is sent.
      spawnSync('sh', ['-c', `kill -9 ${pid}; while [ -e /proc/${pid} ]; do sleep 0.05; done`]);
    });
    const [s1, s2] = points as [{ sid: string; image: Image }, { sid: string; image: Image }];
    const op = (await http.delete(`/v3/snapshots/${s1.sid}`).set(auth('admin')).expect(202)).headers['x-operation-id'] as string;
    const ended = await eventually(async () => {
      const o = (await http.get(`/v3/operations/${op}`).set(auth('admin'))).body.operation as { state: string; error: string | null };
      return o.state === 'running' ? undefined : o;
    }, 120_000);
    setStepHook(null);
    expect(struck, 'the merge reached its final unlink').to.equal(true);
    expect(ended.state, 'the unlink failed without its brick').to.equal('failed');
    expect(ended.error, 'a share error, not INTERNAL').to.match(/^SHARE_UNAVAILABLE: /);

    await brickState(gv.name, gv.brick, false);
    await restartBrick(gv.name, gv.brick, pid);
    // The share answers again: the merge is recorded, only the victim's unlink is left, named by the intent.
    // The share's FUSE client reconnects to the brick on its own time: polled, bounded.
    const left = await eventually(() => readInfo(shareDir, vid).catch(() => undefined), 120_000);
    expect(left?.tree?.intent?.step, 'the intent left for the settle pass').to.equal('unlink');
    const victim = (left?.tree?.intent?.files as { victim?: string } | undefined)?.victim as string;
    expect(before.has(victim), 'the victim was a file of the volume').to.equal(true);
    expect(left?.tree?.files[victim], 'the tree no longer names the victim').to.equal(undefined);
    expect((await readdir(shareDir)).includes(victim), 'the victim is still on the share').to.equal(true);

    // The periodic sweep's pass, as the running service runs it (no restart, no check --repair).
    await eventually(async () => {
      await repairGhostSnapshots(svc.deps).catch(() => undefined);
      return (await http.get(`/v3/snapshots/${s1.sid}`).set(auth('admin'))).status === 404 ? true : undefined;
    }, 120_000);
    const settled = await readInfo(shareDir, vid);
    expect(settled?.tree?.intent).to.equal(null);
    expect((await readdir(shareDir)).includes(victim), 'the victim is gone').to.equal(false);
    expect(Object.keys(settled?.tree?.snapshots ?? {})).to.deep.equal([s2.sid]);
    await verifyImage(path.join(shareDir, settled?.tree?.snapshots[s2.sid]?.file as string), s2.image);
    await verifyImage(await activeOf(vid), image);
    await assertConsistent(svc.deps);
  });

  it('a delete that failed without its brick before changing anything: the snapshot is available again once the brick is back', async () => {
    const vid = (await http.post('/v3/volumes').set(auth('admin')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await status('volumes', vid, 'available');
    await writeBlocks(await activeOf(vid), 0, 4, 0x61);
    const image = written(new Map(), 0, 4, 0x61);
    const sid = (await http.post('/v3/snapshots').set(auth('admin')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
    await status('snapshots', sid, 'available');
    await writeBlocks(await activeOf(vid), 2, 1, 0x62);

    const pid = await brickState(gv.name, gv.brick, true) as number;
    spawnSync('sh', ['-c', `kill -9 ${pid}; while [ -e /proc/${pid} ]; do sleep 0.05; done`]);
    await brickState(gv.name, gv.brick, false);
    const op = (await http.delete(`/v3/snapshots/${sid}`).set(auth('admin')).expect(202)).headers['x-operation-id'] as string;
    const ended = await eventually(async () => {
      const o = (await http.get(`/v3/operations/${op}`).set(auth('admin'))).body.operation as { state: string; error: string | null };
      return o.state === 'running' ? undefined : o;
    }, 120_000);
    expect(ended.state).to.equal('failed');
    expect(ended.error, 'a share error, not INTERNAL').to.match(/^SHARE_UNAVAILABLE: /);
    // The tree was unreadable when the delete failed: it could not tell that nothing had changed.
    expect((await http.get(`/v3/snapshots/${sid}`).set(auth('admin')).expect(200)).body.snapshot.status).to.equal('error_deleting');

    await restartBrick(gv.name, gv.brick, pid);
    await eventually(async () => {
      await repairGhostSnapshots(svc.deps).catch(() => undefined);
      return (await http.get(`/v3/snapshots/${sid}`).set(auth('admin'))).body.snapshot?.status === 'available' ? true : undefined;
    }, 120_000);
    const tree = (await readInfo(shareDir, vid))?.tree;
    expect(tree?.intent).to.equal(null);
    await verifyImage(path.join(shareDir, tree?.snapshots[sid]?.file as string), image);
    await assertConsistent(svc.deps);
    // And it can be deleted now.
    await http.delete(`/v3/snapshots/${sid}`).set(auth('admin')).expect(202);
    await eventually(async () => ((await http.get(`/v3/snapshots/${sid}`).set(auth('admin'))).status === 404 ? true : undefined), 120_000);
  });
});
