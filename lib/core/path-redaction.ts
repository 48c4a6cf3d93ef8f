/**
 * The one rule for what a caller of the API may see of this host's file system: nothing. Error
 * texts are written for the operator and name files by their absolute paths (qemu-img's stderr
 * does too); before such a text leaves the service (an error answer, a recorded operation or
 * checkpoint error), every absolute path under a known root (a share's mount point, the mount
 * base, the lease and temp directories, the service's own directory) becomes the name relative to
 * that root, so a volume's file is named `volume-<id>.<snap>` as on the share, and a root named
 * alone becomes its label. A path under no known root that still names a volume's file (a compute
 * host's own mount of the share) becomes that file's name. The log keeps the full text.
 */

export interface RedactionRoot {
  /** An absolute directory of this host. */
  dir: string;
  /** What the directory is called when a text names it alone ("the share", ...). */
  label: string;
}

export type Redact = (text: string) => string;

/** Characters that continue a path name ('.' below): a root matches only as a whole path prefix. */
const NAME = String.raw`[\w~+@%=-]`;
/** What follows a root: a path up to a quote, space, bracket, ':' or ','. */
const TOKEN = String.raw`[^\s'"\`,;:()[\]{}<>|]`;
/** One segment of a path (no '/': the patterns below cannot split a path two ways). */
const SEG = String.raw`[^\s'"\`,;:()[\]{}<>|/]`;
/**
 * Under no known root: a volume's file (lib/core/volume-names.ts: volume-<id>, .info, .<snap>,
 * temporaries) or a file of an instance's checkpoint directory, at the end of an absolute path.
 */
const UNROOTED = [
  new RegExp(String.raw`(?<![\w.:/-])(?:/${SEG}+)*/(\.?volume-${SEG}+)`, 'g'),
  new RegExp(String.raw`(?<![\w.:/-])(?:/${SEG}+)*/(checkpoints(?:/${SEG}+)+)`, 'g'),
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function normalRoots(roots: readonly RedactionRoot[]): RedactionRoot[] {
  const seen = new Set<string>();
  const kept: RedactionRoot[] = [];
  for (const r of roots) {
    const dir = r.dir.replace(/\/+$/, '');
    // The file-system root would make every absolute path "relative"; a relative dir is not a host path.
    if (dir === '' || !dir.startsWith('/') || seen.has(dir)) continue;
    seen.add(dir);
    kept.push({ dir, label: r.label });
  }
  // Longest first: a share's mount point under the mount base is named relative to the share.
  return kept.sort((a, b) => b.dir.length - a.dir.length);
}

/** A redactor for `roots`; pure, and cheap enough to run on every error text. */
export function pathRedactor(roots: readonly RedactionRoot[]): Redact {
  const rules = normalRoots(roots).map((r) => ({
    // A root named alone may end a sentence: its '.' is not part of the name then.
    pattern: new RegExp(String.raw`(?<![\w.:/-])${escape(r.dir)}(?:/+(${TOKEN}+))?(?!${NAME}|\.\S)`, 'g'),
    label: r.label,
  }));
  return (text) => {
    let out = text;
    for (const { pattern, label } of rules) out = out.replace(pattern, (_all, rest: string | undefined) => rest ?? label);
    for (const pattern of UNROOTED) out = out.replace(pattern, (_all, file: string) => file);
    return out;
  };
}

/** Every string inside `value` (an error's details: nested objects and arrays) redacted. */
export function redactDeep<T>(value: T, redact: Redact): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v, redact)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, redact);
    return out as T;
  }
  return value;
}
