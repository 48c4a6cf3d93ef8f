/**
 * Puts the test tree in its layout, and keeps it there: inside test/unit and test/integration a
 * test file sits at the mirror of what it tests (test/unit/lib/core/..., test/integration/src/api/...),
 * every helper that is not a test (harnesses, fakes, child-process entries, data) sits under
 * test/fixtures/, and test/e2e and test/security keep their tests. Engineers add tests at the old
 * paths while the layout changes, so this is a script the integrator re-runs after each merge:
 *
 *   npx tsx scripts/dev/mirror-tests.ts            # move and rewrite
 *   npx tsx scripts/dev/mirror-tests.ts --dry-run  # print the plan only
 *
 * 1. Plans every move: first the tables below (folders, then single files), then the rule for a
 *    file the tables do not cover (a folder named like a source folder; a unit test named like a
 *    source file is placed beside its mirror). A file it cannot place stops it before anything
 *    changes, naming the file.
 * 2. Moves with `git mv` (plain rename for files git does not track yet).
 * 3. Rewrites every relative string that names a file or folder of the repository (imports,
 *    import(), require, `new URL(..., import.meta.url)`, path pieces) in the moved files and in
 *    every file that names a moved one (tests, bench/, scripts/), and every repository-relative
 *    mention (`test/unit/core/x.test.ts`) in text files (package.json, scripts, docs, READMEs).
 * Every move made is recorded in scripts/dev/mirror-tests.moves.json, so a later run also mends
 * a reference to a file's old path written meanwhile (a test from another branch importing
 * `./harness.js` beside it, a doc naming `test/integration/api/x.test.ts`).
 * A second run finds every file in place and changes nothing. test/unit/layout/test-layout.test.ts
 * fails when a file sits outside this layout.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Top-level folders a test may mirror (a test of bench/campaign lives in test/integration/bench/campaign). */
export const SOURCE_ROOTS = ['lib', 'src', 'drivers', 'coordinator', 'bench', 'deploy', 'scripts'];
/** Folders of test/unit or test/integration that test the repository itself, not a source folder. */
export const OWN_FOLDERS = ['test/unit/layout'];
/** Kinds whose tests stay where they are (their helpers still go to test/fixtures). */
const UNMIRRORED_KINDS = ['e2e', 'security'];
const MIRRORED_KINDS = ['unit', 'integration'];

/** A folder of test/<kind>/ -> the source folder its tests mirror. */
const FOLDERS: Record<string, Record<string, string>> = {
  unit: {
    api: 'src/api', cli: 'src/cli', console: 'src/console', coordinator: 'coordinator', core: 'lib/core',
    drivers: 'drivers/remotefs', export: 'drivers/remotefs/export', libvirt: 'lib/libvirt', protocol: 'lib/protocol',
    qemu: 'lib/qemu', snapshots: 'drivers/remotefs/snapshots',
  },
  integration: {
    api: 'src/api', auth: 'src/api', security: 'src/api', campaign: 'bench/campaign', checkpoint: 'coordinator/checkpoint',
    cli: 'src/cli', console: 'src/console', coordinator: 'coordinator', core: 'lib/core', db: 'src/db', deploy: 'deploy',
    drivers: 'drivers/remotefs', export: 'drivers/remotefs/export', libvirt: 'lib/libvirt', qemu: 'lib/qemu',
    snapshots: 'drivers/remotefs/snapshots',
  },
};

/** Single files the folder rule would put elsewhere, or whose name says less than it should (old -> new, from the repository root). */
const FILES: Record<string, string> = {
  'test/unit/core/assisted-snapshot-protocol.test.ts': 'test/unit/lib/protocol/assisted-snapshot.test.ts',
  'test/unit/drivers/registry.test.ts': 'test/unit/drivers/contract/registry.test.ts',
  'test/unit/drivers/share-hash.test.ts': 'test/unit/lib/core/share-hash.test.ts',
  'test/unit/drivers/mount-args.test.ts': 'test/unit/lib/shares/mount-args.test.ts',
  'test/unit/drivers/proc-mounts.test.ts': 'test/unit/lib/shares/proc-mounts.test.ts',
  'test/unit/core/config-reference.test.ts': 'test/unit/scripts/config-reference.test.ts',
  'test/integration/drivers/contract.test.ts': 'test/integration/drivers/contract/contract.test.ts',
  'test/integration/drivers/contract.ts': 'test/fixtures/drivers/contract-suite.ts',
  'test/unit/drivers/fixtures/fake-driver.ts': 'test/fixtures/drivers/unimplemented-driver.ts',
  'test/unit/drivers/fixtures/incomplete-driver.ts': 'test/fixtures/drivers/incomplete-driver.ts',
  'test/integration/security/raw-http.ts': 'test/fixtures/security/raw-socket.ts',
  'test/integration/export/tree-fixture.ts': 'test/fixtures/export/tree.ts',
  'test/unit/coordinator/fixtures/libvirt-9.0-active-commit.xml': 'test/fixtures/coordinator/libvirt-9.0-active-commit.xml',
};

/** Path pieces a helper's folder loses on its way to test/fixtures (test/unit/coordinator/helpers/x.ts -> test/fixtures/coordinator/x.ts). */
const HELPER_SEGMENTS = new Set(['helpers', 'fixtures']);

const isTest = (f: string) => f.endsWith('.test.ts');
const isDir = (rel: string) => existsSync(path.join(ROOT, rel)) && statSync(path.join(ROOT, rel)).isDirectory();
/** A folder that holds code itself (drivers/ holds only folders: a test cannot mirror it). */
const holdsCode = (rel: string) => isDir(rel) && readdirSync(path.join(ROOT, rel)).some((n) => /\.(?:[cm]?[jt]s|sh|py)$/.test(n) && !n.endsWith('.d.ts'));

function gitFiles(args: string[]): string[] {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).split('\n').filter((l) => l !== '');
}

/** Tracked files and the untracked ones git does not ignore, that exist in the working tree. */
function repoFiles(): { all: string[]; tracked: Set<string> } {
  const tracked = gitFiles(['ls-files']);
  const untracked = gitFiles(['ls-files', '--others', '--exclude-standard']);
  const all = [...new Set([...tracked, ...untracked])].filter((f) => existsSync(path.join(ROOT, f))).sort();
  return { all, tracked: new Set(tracked) };
}

/** Source files (.ts) under the source roots, by their name without extension. */
function sourceIndex(all: readonly string[]): Map<string, string[]> {
  const byStem = new Map<string, string[]>();
  for (const f of all) {
    if (!SOURCE_ROOTS.includes(f.split('/')[0] as string) || !f.endsWith('.ts') || f.endsWith('.d.ts')) continue;
    const stem = path.posix.basename(f, '.ts');
    byStem.set(stem, [...(byStem.get(stem) ?? []), f]);
  }
  return byStem;
}

/** Where a test file of test/<kind>/ that is already in the layout sits: under a source folder that exists, or an own folder. */
export function isPlacedTest(file: string): boolean {
  const parts = file.split('/');
  const kind = parts[1] as string;
  if (UNMIRRORED_KINDS.includes(kind)) return parts.length >= 3;
  if (!MIRRORED_KINDS.includes(kind)) return false;
  const dir = parts.slice(2, -1).join('/');
  if (OWN_FOLDERS.some((o) => path.posix.dirname(file) === o || path.posix.dirname(file).startsWith(`${o}/`))) return true;
  return SOURCE_ROOTS.includes(parts[2] as string) && holdsCode(dir);
}

export function isPlacedFixture(file: string): boolean {
  return file.startsWith('test/fixtures/');
}

interface Plan { moves: Map<string, string>; problems: string[] }

/** A unit test named like one source file under `root`: that file's folder; else `root`. */
function refine(root: string, stem: string, byStem: Map<string, string[]>): string {
  const inRoot = (byStem.get(stem) ?? []).filter((c) => c.startsWith(`${root}/`));
  return inRoot.length === 1 ? path.posix.dirname(inRoot[0] as string) : root;
}

/** The source folder a test folder name stands for when no table names it: the one folder of that name under the source roots. */
function folderByName(name: string, all: readonly string[]): string | null {
  const dirs = new Set<string>();
  for (const f of all) {
    if (!SOURCE_ROOTS.includes(f.split('/')[0] as string)) continue;
    const parts = f.split('/');
    for (let i = 1; i < parts.length - 1; i++) if (parts[i] === name) dirs.add(parts.slice(0, i + 1).join('/'));
  }
  return dirs.size === 1 ? [...dirs][0] as string : null;
}

export function planMoves(all: readonly string[]): Plan {
  const moves = new Map<string, string>();
  const problems: string[] = [];
  const byStem = sourceIndex(all);
  for (const file of all) {
    if (!file.startsWith('test/')) continue;
    const parts = file.split('/');
    const kind = parts[1] as string;
    const name = parts[parts.length - 1] as string;
    if (FILES[file] !== undefined) {
      moves.set(file, FILES[file] as string);
      continue;
    }
    if (kind === 'fixtures' || name === 'README.md') continue;
    if (parts.length < 3) {
      problems.push(`${file}: a file directly in test/ (tests go in test/<kind>/, helpers in test/fixtures/)`);
      continue;
    }
    if (!MIRRORED_KINDS.includes(kind) && !UNMIRRORED_KINDS.includes(kind)) {
      problems.push(`${file}: test/${kind} is not a kind of test (unit, integration, e2e, security) nor test/fixtures`);
      continue;
    }
    if (!isTest(file)) {
      // A helper: to test/fixtures, under its folder's name (e2e and security keep their kind's name).
      const dirs = parts.slice(2, -1).filter((p) => !HELPER_SEGMENTS.has(p));
      const under = UNMIRRORED_KINDS.includes(kind) ? [kind, ...dirs] : dirs;
      moves.set(file, ['test', 'fixtures', ...under, name].join('/'));
      continue;
    }
    if (isPlacedTest(file)) continue;
    const dirs = parts.slice(2, -1);
    const stem = name.replace(/\.test\.ts$/, '');
    let target: string | null = null;
    const mapped = dirs[0] !== undefined ? FOLDERS[kind]?.[dirs[0]] ?? folderByName(dirs[0], all) : null;
    if (mapped !== null) {
      const root = [mapped, ...dirs.slice(1)].join('/');
      target = kind === 'unit' && dirs.length === 1 ? refine(root, stem, byStem) : root;
    } else if (dirs.length === 0) {
      const candidates = byStem.get(stem) ?? [];
      if (candidates.length === 1) target = path.posix.dirname(candidates[0] as string);
    }
    if (target === null) {
      problems.push(`${file}: no table entry and no source folder or file it mirrors (add it to FOLDERS or FILES in scripts/dev/mirror-tests.ts)`);
      continue;
    }
    moves.set(file, `test/${kind}/${target}/${name}`);
  }
  // Two files to one place, or onto a file that stays: refused.
  const seen = new Map<string, string>();
  for (const [from, to] of moves) {
    if (seen.has(to)) problems.push(`${from} and ${seen.get(to) as string} would both become ${to}`);
    seen.set(to, from);
    if (all.includes(to) && !moves.has(to)) problems.push(`${from} -> ${to}: that file exists`);
  }
  for (const [from, to] of [...moves]) if (from === to) moves.delete(from);
  return { moves, problems };
}

/** The new place of a repository path (a file, or a folder all of whose files move alike); null when it does not move consistently. */
function mapperOf(moves: ReadonlyMap<string, string>, all: readonly string[]) {
  const dirCache = new Map<string, string | null | undefined>();
  const dirMove = (dir: string): string | null | undefined => {
    if (dirCache.has(dir)) return dirCache.get(dir);
    const inside = all.filter((f) => f.startsWith(`${dir}/`));
    let out: string | null | undefined;
    const moved = inside.filter((f) => moves.has(f));
    // Not moved, or only some of its files: the folder stays where it is.
    if (moved.length === 0 || moved.length !== inside.length) out = undefined;
    else {
      const targets = new Set(moved.map((f) => {
        const to = moves.get(f) as string;
        const tail = f.slice(dir.length);
        return to.endsWith(tail) ? to.slice(0, to.length - tail.length) : '';
      }));
      out = targets.size === 1 && !targets.has('') ? [...targets][0] as string : null;
    }
    dirCache.set(dir, out);
    return out;
  };
  return (p: string): string | null | undefined => (moves.has(p) ? moves.get(p) : isDir(p) ? dirMove(p) : undefined);
}

const TS_TWIN: Record<string, string> = { '.js': '.ts', '.mjs': '.mts', '.cjs': '.cts' };

/** Every move made so far (old -> new path), kept with the script. */
const LOG_FILE = 'scripts/dev/mirror-tests.moves.json';

function readLog(): Record<string, string> {
  const file = path.join(ROOT, LOG_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
}

/** The log with this run's moves added; a path moved twice keeps only its latest place. */
function mergedLog(log: Record<string, string>, moves: ReadonlyMap<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [from, to] of Object.entries(log)) out[from] = moves.get(to) ?? to;
  for (const [from, to] of moves) out[from] = to;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Rewrites relative path strings of one file (at `oldFile`, becoming `newFile`): a string that
 * names a repository file or folder is pointed at its new place, from the file's new place.
 */
function rewriteRelative(text: string, oldFile: string, newFile: string, map: (p: string) => string | null | undefined, exists: (p: string) => boolean, log: Record<string, string>, warnings: string[]): string {
  return text.replace(/(['"`])(\.\.?\/[^'"`\n$]*?)\1/g, (whole, quote: string, spec: string) => {
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(oldFile), spec));
    const ext = path.posix.extname(resolved);
    const twin = TS_TWIN[ext] !== undefined ? resolved.slice(0, -ext.length) + TS_TWIN[ext] : null;
    const named = [resolved, twin].find((c): c is string => c !== null && (exists(c) || (log[c] !== undefined && exists(log[c] as string))));
    if (named === undefined) return whole;
    // A path that moved in an earlier run (a reference written meanwhile): its recorded place.
    const target = exists(named) ? named : log[named] as string;
    const to = map(target);
    if (to === null) {
      warnings.push(`${oldFile}: ${spec} names a folder whose files move apart; left as it is`);
      return whole;
    }
    let moved = to ?? target;
    if (moved === named && oldFile === newFile) return whole;
    if (named !== resolved) moved = moved.slice(0, -path.posix.extname(moved).length) + ext;
    const trailing = spec.endsWith('/') ? '/' : '';
    let rel = path.posix.relative(path.posix.dirname(newFile), moved) + trailing;
    if (!rel.startsWith('.')) rel = `./${rel}`;
    return `${quote}${rel}${quote}`;
  });
}

/** Repository-relative mentions (test/unit/core/x.test.ts, test/unit/core/) in any text. */
function rewriteMentions(text: string, mentions: readonly [string, string][]): string {
  let out = text;
  for (const [from, to] of mentions) {
    const re = new RegExp(`(?<![\\w./-])${from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w/-]|\\.(?:ts|js)\\b)`, 'g');
    out = out.replace(re, to);
  }
  return out;
}

const TEXT = /\.(?:[cm]?[jt]s|json|md|sh|py|ya?ml|txt|xml|html|css)$|(?:^|\/)(?:Makefile|Dockerfile)$/;

function main(): void {
  const dryRun = process.argv.includes('--dry-run');
  const { all, tracked } = repoFiles();
  const { moves, problems } = planMoves(all);
  if (problems.length > 0) {
    process.stderr.write(`mirror-tests: cannot place every file; nothing changed:\n  ${problems.join('\n  ')}\n`);
    process.exit(1);
  }
  for (const [from, to] of moves) process.stdout.write(`${from} -> ${to}\n`);
  if (dryRun) return;
  const log = readLog();

  const oldSet = new Set(all);
  const exists = (p: string) => oldSet.has(p) || isDir(p);
  const map = mapperOf(moves, all);
  // Folders that move whole (old -> new), for mentions from the repository root; longest first.
  const dirs = new Set<string>();
  for (const f of moves.keys()) for (let d = path.posix.dirname(f); d !== 'test' && d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
  const mentions: [string, string][] = [...moves];
  for (const d of dirs) {
    const to = map(d);
    if (typeof to === 'string') mentions.push([`${d}/`, `${to}/`], [d, to]);
  }
  // Old paths of earlier runs that someone named again meanwhile.
  for (const [from, to] of Object.entries(log)) if (!exists(from) && !moves.has(from)) mentions.push([from, moves.get(to) ?? to]);
  mentions.sort((a, b) => b[0].length - a[0].length);

  // Rewrite first (every file read at its old place), then move.
  const warnings: string[] = [];
  const written = new Map<string, string>();
  for (const file of all) {
    if (!(TEXT.test(file) || file.startsWith('.ci/')) || file === 'package-lock.json' || file.startsWith('scripts/dev/mirror-tests')) continue;
    const before = readFileSync(path.join(ROOT, file), 'utf8');
    const newFile = moves.get(file) ?? file;
    let after = /\.[cm]?[jt]s$/.test(file) ? rewriteRelative(before, file, newFile, map, exists, log, warnings) : before;
    after = rewriteMentions(after, mentions);
    if (after !== before) written.set(file, after);
  }
  for (const [file, text] of written) writeFileSync(path.join(ROOT, file), text);
  for (const [from, to] of moves) {
    mkdirSync(path.dirname(path.join(ROOT, to)), { recursive: true });
    if (tracked.has(from)) execFileSync('git', ['mv', from, to], { cwd: ROOT });
    else renameSync(path.join(ROOT, from), path.join(ROOT, to));
  }
  if (moves.size > 0) writeFileSync(path.join(ROOT, LOG_FILE), `${JSON.stringify(mergedLog(log, moves), null, 2)}\n`);
  for (const w of warnings) process.stderr.write(`mirror-tests: warning: ${w}\n`);
  process.stdout.write(moves.size === 0 && written.size === 0
    ? 'mirror-tests: every test and fixture is in place; nothing to do\n'
    : `mirror-tests: moved ${moves.size} files, rewrote ${written.size}\n`);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  return script !== undefined && path.resolve(script) === fileURLToPath(import.meta.url);
}

if (isEntryPoint()) main();
