/**
 * The safe pull (qemu-img rebase, used for every pull of more than 64 MiB and whenever
 * the fast pull is refused) writes D's new header BEFORE it writes back the L2 and refcount
 * tables of the clusters it copied (qemu 7.2: qcow2_update_header from bdrv_change_backing_file,
 * the metadata cache is flushed only at close). If qemu-img dies between the two (SIGKILL from
 * the stall watchdog, from a lease-loss abort, from the OOM killer, or from pdeathsig when the
 * service crashes), D names the new backing but lacks the copied clusters. settlePull then sees
 * "header names the new backing" and ROLLS FORWARD: it writes the info file and unlinks F, the
 * only file that still holds the data. The README lists the window as a known gap of a crash;
 * this test shows it is reached in-process too and that the engine itself makes the loss
 * permanent (deleteSnapshot even reports success).
 *
 * The kill is made deterministic with an LD_PRELOAD shim that SIGKILLs qemu-img right after its
 * header pwrite to D (gcc and libc6-dev come with the test set-up, scripts/setup.d/10-packages.sh).
 */
import { randomUUID } from 'node:crypto';
import { realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { run } from '../../../../../lib/core/process.js';
import { imgCreate } from '../../../../../lib/qemu/img-create.js';
import { newTree, writeInfo } from '../../../../../drivers/remotefs/info-file.js';
import { createSnapshotOp } from '../../../../../drivers/remotefs/snapshots/create.js';
import { deleteSnapshotOp } from '../../../../../drivers/remotefs/snapshots/delete.js';
import { routePull } from '../../../../../drivers/remotefs/snapshots/pull-fast.js';
import { MiB, currentTree, model, tempDir, verifyAll, writeStep, type Vol } from '../../../../fixtures/snapshots/harness.js';

const SHIM = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
static int hit(int fd, const void *buf, size_t n, off_t off) {
  const char *want = getenv("REVIEW_KILL_PATH");
  if (!want || off != 0 || n < 4 || memcmp(buf, "QFI\\xfb", 4) != 0) return 0;
  char p[64], link[4096]; snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  ssize_t l = readlink(p, link, sizeof link - 1); if (l < 0) return 0; link[l] = 0;
  return strcmp(link, want) == 0;
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real) real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
  ssize_t r = real(fd, buf, n, off);
  if (hit(fd, buf, n, off)) kill(getpid(), SIGKILL);
  return r;
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) { return pwrite64(fd, buf, n, off); }
`;

describe('REVIEW: safe pull killed between its header write and its metadata flush', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let shim: string;

  before(async function () {
  });
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('review-safe-pull-'));
    dir = await realpath(dir);
    await writeFile(path.join(dir, 'kill.c'), SHIM);
    shim = path.join(dir, 'kill.so');
    await run('gcc', ['-shared', '-fPIC', '-O2', '-o', shim, path.join(dir, 'kill.c'), '-ldl']);
  });
  afterEach(async () => {
    delete process.env.LD_PRELOAD;
    delete process.env.REVIEW_KILL_PATH;
    await cleanup();
  });

  it('the engine must not unlink the victim when the dependant did not receive its data', async () => {
    // Root with 4 KiB clusters: the fast pull refuses (victim clusters smaller than the
    // dependant's), so the delete takes the safe qemu-img rebase, as every large pull does.
    const volumeId = randomUUID();
    const root = `volume-${volumeId}`;
    await imgCreate({ path: path.join(dir, root), format: 'qcow2', sizeBytes: 2 * MiB, clusterSize: 4096 });
    await writeInfo(dir, newTree(volumeId, root, 'qcow2', 2 * MiB));
    const v: Vol = { loc: { dir, volumeId, maxChainDepth: 128 }, active: { size: 2 * MiB, data: new Map() }, snaps: new Map(), patterns: 0 };
    await writeStep(v, 3);
    await writeStep(v, 10);
    const s1 = randomUUID();
    await createSnapshotOp(v.loc, s1);
    model.create(v, s1);
    for (const r of [0, 1, 2, 4, 5]) await writeStep(v, r); // D holds more than F: pull
    const s2 = randomUUID();
    await createSnapshotOp(v.loc, s2);
    model.create(v, s2);
    await verifyAll(v, 'before');

    const t = await currentTree(v);
    const d = t.snapshots[s2]?.file as string;
    expect((await routePull(dir, { file: d, format: 'qcow2' }, { file: root, format: 'qcow2' }, null)).kind).to.equal('safe');

    process.env.REVIEW_KILL_PATH = path.join(dir, d);
    process.env.LD_PRELOAD = shim;
    let outcome = 'resolved';
    try {
      await deleteSnapshotOp(v.loc, s1);
    } catch (err) {
      outcome = `threw ${(err as Error).message}`;
    } finally {
      delete process.env.LD_PRELOAD;
      delete process.env.REVIEW_KILL_PATH;
    }
    const after = await currentTree(v);
    // Whatever the engine decided, s2's point (regions 3 and 10 come from the root) and the active
    // file must still read exactly as before: either the delete rolled back (s1 still there)
    // or it finished with D holding everything.
    if (after.snapshots[s1] === undefined) model.remove(v, s1);
    await verifyAll(v, `after the killed rebase (deleteSnapshot ${outcome})`);
  });
});
