/**
 * Data checks: files written in the guest (on the volume's ext4), read back in the guest, and
 * read on the host at any snapshot point (the image converted to raw, its journal replayed on the
 * copy, the file read with debugfs) — so every remaining snapshot is checked, not just the guest.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { run, runBinary } from '../../../lib/core/process.js';
import type { BootedGuest, Volume } from './guest.js';

/** virtio-blk keeps the first 20 bytes of the serial. */
export async function guestDev(g: BootedGuest, v: Volume): Promise<string> {
  const out = await g.exec(`for b in /sys/block/vd*; do [ "$(cat $b/serial)" = "${v.id.slice(0, 20)}" ] && echo \${b##*/}; done; true`);
  const dev = out.trim();
  if (!/^vd[a-z]$/.test(dev)) throw new Error(`no guest disk with serial ${v.id}: ${JSON.stringify(out)}`);
  return dev;
}

/** Write 256 KiB of `byte` to /mnt/<dev>/<name>, synced; returns its sha256. */
export async function writeData(g: BootedGuest, v: Volume, name: string, byte: number): Promise<string> {
  const dev = await guestDev(g, v);
  const file = `/mnt/${dev}/${name}`;
  await g.exec(`head -c 262144 /dev/zero | tr '\\000' '\\${byte.toString(8).padStart(3, '0')}' > ${file} && sync`);
  return guestSha(g, v, name);
}

export async function guestSha(g: BootedGuest, v: Volume, name: string): Promise<string> {
  const dev = await guestDev(g, v);
  const out = await g.exec(`sync; echo 3 > /proc/sys/vm/drop_caches; sha256sum /mnt/${dev}/${name}`);
  return out.split(/\s+/)[0] as string;
}

export function patternSha(byte: number): string {
  return createHash('sha256').update(Buffer.alloc(262144, byte)).digest('hex');
}

/**
 * The files of the ext4 at a snapshot point (`image` read through its backing chain), by name →
 * sha256, for the names asked; a missing file maps to null.
 */
export async function filesAtPoint(image: string, names: string[], scratch: string): Promise<Record<string, string | null>> {
  const raw = path.join(scratch, `${path.basename(image)}.${process.pid}.raw`);
  try {
    await run('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', image, raw], { timeoutMs: 120_000 });
    const fsck = await run('e2fsck', ['-fy', raw], { allowFailure: true });
    if (fsck.exitCode > 1) throw new Error(`e2fsck ${image}: exit ${fsck.exitCode}: ${fsck.stdout}${fsck.stderr}`);
    const out: Record<string, string | null> = {};
    for (const n of names) {
      const ls = await run('debugfs', ['-R', `stat /${n}`, raw], { allowFailure: true });
      if (/File not found/.test(ls.stderr + ls.stdout)) { out[n] = null; continue; }
      const data = await runBinary('debugfs', ['-R', `cat /${n}`, raw]);
      out[n] = createHash('sha256').update(data).digest('hex');
    }
    return out;
  } finally {
    await rm(raw, { force: true });
  }
}
