/**
 * "Is it mounted?" is answered from /proc/mounts, never from mount(8)'s messages (their wording
 * differs between mount helpers and releases).
 */
import { readFile } from 'node:fs/promises';

export interface MountEntry {
  source: string;
  target: string;
  fstype: string;
}

/** /proc/mounts escapes space, tab, newline and backslash as octal (\040 ...). */
function unescapeField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseProcMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 3 || f[0] === undefined || f[1] === undefined || f[2] === undefined) continue;
    out.push({ source: unescapeField(f[0]), target: unescapeField(f[1]), fstype: f[2] });
  }
  return out;
}

export async function readMounts(file = '/proc/mounts'): Promise<MountEntry[]> {
  return parseProcMounts(await readFile(file, 'utf8'));
}

/** The entry mounted last at `target` (the visible one when mounts are stacked). */
export function mountAt(entries: readonly MountEntry[], target: string): MountEntry | undefined {
  return entries.filter((e) => e.target === target).at(-1);
}
