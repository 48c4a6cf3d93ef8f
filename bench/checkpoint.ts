/**
 * Checkpoint benchmark on the booted test guest (TCG, two volumes): the product's take
 * (coordinator/checkpoint, consistent mode) against `virsh snapshot-create-as --memspec
 * --diskspec` on the same guest in the same run, and the product's revert against
 * `virsh restore --xml` of the same memory file (plus the overlay creation the product does
 * anyway, timed apart); both sides include the destroy of the running guest. The guest's pause is measured from libvirt's lifecycle events
 * (SUSPENDED → RESUMED) for both. Rounds alternate, so load drift hits both sides alike.
 *
 *   npx tsx bench/checkpoint.ts [rounds]
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { run } from '../lib/core/process.js';
import { DomainEventId, LifecycleEventType, UndefineFlags, type DomainRef } from '../lib/libvirt/index.js';
import { parseDomainXml } from '../coordinator/domain/disks.js';
import { checkpointPaths } from '../coordinator/checkpoint/plan.js';
import { planRevert, revertCheckpoint, takeCheckpoint, type CheckpointDeps } from '../coordinator/checkpoint/runner.js';
import { createDisk, createOverlay, guestImage, guestXml, openTestConnection } from '../test/fixtures/guest/index.js';
import { makeRunDir } from '../test/fixtures/guest/paths.js';
import { formatMs, summarize } from './lib/stats.js';

const ROUNDS = Number(process.argv[2] ?? 5);

async function main(): Promise<void> {
  const conn = await openTestConnection();
  const dir = makeRunDir('ckpt-bench');
  const vols = path.join(dir, 'vols');
  fs.mkdirSync(vols, { mode: 0o755 });
  const instance = randomUUID();
  const v = [randomUUID(), randomUUID()];
  let dom: DomainRef | undefined;
  const name = `ckpt-bench-${instance.slice(0, 8)}`;
  try {
    const disks = [
      { target: 'vdb', serial: v[0]!, file: await createDisk(vols, `volume-${v[0]}`, 64 << 20, 'blank') },
      { target: 'vdc', serial: v[1]!, file: await createDisk(vols, `volume-${v[1]}`, 64 << 20, 'blank') },
    ];
    const xml = guestXml({ name, ...(await guestImage()), disks, agent: true, consoleLog: path.join(dir, 'console.log') })
      .replace('<name>', `<uuid>${instance}</uuid><name>`);
    dom = await conn.create(await conn.defineXml(xml));
    const deadline = Date.now() + 180_000;
    for (;;) {
      try { await conn.agent(dom, 'guest-ping', undefined, 2); break; } catch (err) { if (Date.now() > deadline) throw err; await new Promise((r) => setTimeout(r, 300)); }
    }
    let suspendedAt = 0;
    let pauseMs = 0;
    conn.events.on('event', (e) => {
      if (e.kind !== 'lifecycle' || e.domain.uuid !== instance) return;
      if (e.event === LifecycleEventType.SUSPENDED) suspendedAt = performance.now();
      if (e.event === LifecycleEventType.RESUMED && suspendedAt > 0) { pauseMs = performance.now() - suspendedAt; suspendedAt = 0; }
    });
    const cb = await conn.registerDomainEvent(DomainEventId.LIFECYCLE, dom);
    const deps: CheckpointDeps = { libvirt: conn, shareMount: dir, makeOverlay: async (d, b, o, s) => { await createOverlay(d, b, o, s); } };
    const active = async (target: string) => parseDomainXml(await conn.getXmlDesc(dom as DomainRef)).disks.find((d) => d.target === target)?.chain[0]?.path as string;
    const t = { ours: [] as number[], virsh: [] as number[], oursPause: [] as number[], virshPause: [] as number[], revert: [] as number[], restore: [] as number[], overlays: [] as number[] };

    for (let i = 0; i < ROUNDS; i++) {
      // Ours.
      pauseMs = 0;
      let t0 = performance.now();
      const rec = await takeCheckpoint(deps, { instanceUuid: instance, name: `b${i}` });
      t.ours.push(performance.now() - t0);
      t.oursPause.push(pauseMs);
      // virsh, same guest, its own overlays (created the same way, not timed: ours creates them before the call too).
      const mem = path.join(dir, `virsh-${i}.mem`);
      const ov = await Promise.all(['vdb', 'vdc'].map(async (target, k) => {
        const top = await active(target);
        const o = `volume-${v[k]}.${randomUUID()}`;
        await createOverlay(path.dirname(top), path.basename(top), o, 64 << 20);
        return path.join(path.dirname(top), o);
      }));
      pauseMs = 0;
      t0 = performance.now();
      await run('virsh', ['-q', 'snapshot-create-as', name, `v${i}`, '--no-metadata', '--atomic', '--reuse-external',
        '--memspec', `file=${mem},snapshot=external`, '--diskspec', `vdb,snapshot=external,file=${ov[0]}`, '--diskspec', `vdc,snapshot=external,file=${ov[1]}`]);
      t.virsh.push(performance.now() - t0);
      t.virshPause.push(pauseMs);

      // Revert: ours (checks, overlays, destroy, restore, define), then virsh restore of the same memory file.
      t0 = performance.now();
      await revertCheckpoint(deps, instance, rec.id);
      t.revert.push(performance.now() - t0);
      const plan = await planRevert(deps, instance, rec.id);
      t0 = performance.now();
      for (const [k, vol] of rec.volumes.entries()) {
        await createOverlay(path.dirname(vol.snapshotPoint), path.basename(vol.snapshotPoint), path.basename(plan.overlays[k]!.path), vol.sizeBytes);
      }
      t.overlays.push(performance.now() - t0);
      const xmlFile = path.join(dir, `restore-${i}.xml`);
      fs.writeFileSync(xmlFile, plan.restoreXml);
      // The product's revert destroys the guest inside its timing; so does this side.
      t0 = performance.now();
      await conn.destroy(dom);
      await run('virsh', ['-q', 'restore', checkpointPaths(dir, instance, rec.id).memory, '--xml', xmlFile]);
      t.restore.push(performance.now() - t0);
      dom = await conn.lookupByUuid(instance);
    }
    await conn.deregisterDomainEvent(cb);
    const line = (label: string, xs: number[]) => { const s = summarize(xs); console.log(`${label.padEnd(48)} n=${s.n} median ${formatMs(s.median)} min ${formatMs(s.min)} max ${formatMs(s.max)}`); return s.median; };
    const ours = line('take: product (consistent)', t.ours);
    const virsh = line('take: virsh snapshot-create-as --memspec', t.virsh);
    const op = line('pause: product', t.oursPause);
    const vp = line('pause: virsh', t.virshPause);
    const rv = line('revert: product (checks + overlays + restore)', t.revert);
    const ovl = line('  overlay creation alone', t.overlays);
    const rs = line('revert: destroy + virsh restore --xml', t.restore);
    console.log(`ratios (target ≤ 1.1): take ${(ours / virsh).toFixed(2)}x, pause ${vp > 0 ? (op / vp).toFixed(2) : 'n/a'}x, revert vs restore+overlays ${(rv / (rs + ovl)).toFixed(2)}x`);
  } finally {
    if (dom) {
      await conn.destroy(dom).catch(() => undefined);
      await conn.undefine(dom, UndefineFlags.SNAPSHOTS_METADATA).catch(() => undefined);
    }
    await conn.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1; });
