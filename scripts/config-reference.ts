/**
 * The configuration reference (docs/operations/configuration.md), generated from the storage
 * service's schema (lib/core/config.ts with the built-in drivers' storage options composed in:
 * src/api/service-config.ts): every key with its type, limits and default from the zod schema
 * itself, and its description from the comment above it in the file that declares it (read with
 * the TypeScript parser, so a comment and its key cannot drift apart). A unit test fails when the
 * file is out of date.
 *
 *   npx tsx scripts/config-reference.ts            # rewrite the file
 *   npx tsx scripts/config-reference.ts --check    # exit 1 when it differs
 */
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { serviceConfigSchema } from '../src/api/service-config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CONFIG_SOURCE = path.join(ROOT, 'lib/core/config.ts');
export const REFERENCE_FILE = path.join(ROOT, 'docs/operations/configuration.md');
/**
 * The built-in drivers' storage options (drivers/contract/registry.ts composes the same ones):
 * their comments stand for the `driverStorageOptions` the core schema spreads into storage.
 */
const DRIVER_OPTION_SOURCES = [{ file: path.join(ROOT, 'drivers/remotefs/options.ts'), variable: 'remotefsStorageOptions' }];
/** The function in lib/core/config.ts whose returned object lists the sections. */
const SECTIONS_OWNER = 'composeConfigSchema';

/* eslint-disable @typescript-eslint/no-explicit-any -- zod's internal definitions are walked generically */
type Def = { type: string; [k: string]: any };
const defOf = (s: any): Def => s._zod.def as Def;

interface Row { key: string; type: string; default: string; description: string }

/** Comments of the source: variable → field → text; and which variable a field's value is built from. */
interface SourceFacts {
  comments: Map<string, Map<string, string>>;
  spreads: Map<string, string[]>;
  children: Map<string, Map<string, string>>;
}

function readSource(text: string): SourceFacts {
  const sf = ts.createSourceFile('config.ts', text, ts.ScriptTarget.ES2022, true);
  const facts: SourceFacts = { comments: new Map(), spreads: new Map(), children: new Map() };
  const vars = new Set<string>();
  sf.forEachChild((n) => {
    if (ts.isVariableStatement(n)) for (const d of n.declarationList.declarations) if (ts.isIdentifier(d.name)) vars.add(d.name.text);
  });
  const jsdoc = (node: ts.Node): string => {
    const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
    return ranges.map((r) => text.slice(r.pos, r.end)).filter((c) => c.startsWith('/**')).map((c) => c.replace(/^\/\*\*|\*\/$/g, '').split('\n').map((l) => l.replace(/^\s*\*\s?/, '').trim()).join(' ').trim()).join(' ');
  };
  const visitObject = (owner: string, obj: ts.ObjectLiteralExpression) => {
    const comments = facts.comments.get(owner) ?? new Map<string, string>();
    facts.comments.set(owner, comments);
    for (const p of obj.properties) {
      if (ts.isSpreadAssignment(p) && ts.isIdentifier(p.expression)) {
        facts.spreads.set(owner, [...(facts.spreads.get(owner) ?? []), p.expression.text]);
      } else if (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) {
        const field = p.name.text;
        const doc = jsdoc(p);
        if (doc) comments.set(field, doc);
        // A field built from another top-level schema (storage: storageSchema.prefault({})).
        const refs: string[] = [];
        const inline: ts.ObjectLiteralExpression[] = [];
        const find = (n: ts.Node) => {
          if (ts.isIdentifier(n) && vars.has(n.text) && n.text !== owner) refs.push(n.text);
          if (ts.isObjectLiteralExpression(n) && ts.isCallExpression(n.parent) && /Object$/.test(n.parent.expression.getText())) inline.push(n);
          else n.forEachChild(find);
        };
        find(p.initializer);
        const child = refs[0] ?? (inline[0] ? `${owner}.${field}` : undefined);
        if (child !== undefined) {
          const children = facts.children.get(owner) ?? new Map<string, string>();
          children.set(field, child);
          facts.children.set(owner, children);
        }
        if (!refs[0] && inline[0]) visitObject(`${owner}.${field}`, inline[0]);
      }
    }
  };
  const visit = (n: ts.Node, owner: string | undefined) => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name)) owner = n.name.text;
    if (ts.isFunctionDeclaration(n) && n.name) owner = n.name.text;
    if (owner !== undefined && ts.isObjectLiteralExpression(n)) {
      visitObject(owner, n);
      return;
    }
    n.forEachChild((c) => visit(c, owner));
  };
  visit(sf, undefined);
  return facts;
}

function commentFor(facts: SourceFacts, owner: string, field: string): string {
  const own = facts.comments.get(owner)?.get(field);
  if (own) return own;
  for (const spread of facts.spreads.get(owner) ?? []) {
    const c = commentFor(facts, spread, field);
    if (c) return c;
  }
  return '';
}

/** Which variable a field's value is built from, through spreads like commentFor. */
function childFor(facts: SourceFacts, owner: string, field: string): string | undefined {
  const own = facts.children.get(owner)?.get(field);
  if (own !== undefined) return own;
  for (const spread of facts.spreads.get(owner) ?? []) {
    const c = childFor(facts, spread, field);
    if (c !== undefined) return c;
  }
  return undefined;
}

function unwrap(schema: any): { inner: any; def?: unknown; optional: boolean; nullable: boolean } {
  let s = schema;
  let dflt: unknown;
  let optional = false;
  let nullable = false;
  for (;;) {
    const d = defOf(s);
    if (d.type === 'default' || d.type === 'prefault') {
      if (dflt === undefined) dflt = d.defaultValue;
      s = d.innerType;
    } else if (d.type === 'optional') {
      optional = true;
      s = d.innerType;
    } else if (d.type === 'nullable') {
      nullable = true;
      s = d.innerType;
    } else break;
  }
  return { inner: s, def: dflt, optional, nullable };
}

function typeText(s: any): string {
  const d = defOf(s);
  switch (d.type) {
    case 'string': return 'string';
    case 'boolean': return 'boolean';
    case 'number': {
      const int = s.isInt === true;
      const lo = Number.isFinite(s.minValue) && Math.abs(s.minValue) < Number.MAX_SAFE_INTEGER ? s.minValue : undefined;
      const hi = Number.isFinite(s.maxValue) && Math.abs(s.maxValue) < Number.MAX_SAFE_INTEGER ? s.maxValue : undefined;
      const range = lo !== undefined && hi !== undefined ? ` ${lo}–${hi}` : lo !== undefined ? ` ≥ ${lo}` : hi !== undefined ? ` ≤ ${hi}` : '';
      return `${int ? 'integer' : 'number'}${range}`;
    }
    case 'enum': return `one of ${Object.values(d.entries as Record<string, string>).map((v) => `\`${v}\``).join(', ')}`;
    case 'array': return `list of ${typeText(unwrap(d.element).inner)}`;
    case 'record': return `map of name → ${typeText(unwrap(d.valueType).inner)}`;
    case 'object': return 'object';
    default: return d.type;
  }
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rowsOf(schema: any, prefix: string, owner: string, facts: SourceFacts, out: Row[], nested: { key: string; schema: any; owner: string }[]): void {
  const shape = (schema as { shape: Record<string, unknown> }).shape;
  for (const [field, raw] of Object.entries(shape)) {
    const key = `${prefix}${field}`;
    const u = unwrap(raw);
    const d = defOf(u.inner);
    const child = childFor(facts, owner, field);
    const description = commentFor(facts, owner, field);
    if (d.type === 'object' && child !== undefined) {
      // A whole group that may be absent (tls: null = plain HTTP) gets its own row too.
      if (u.nullable || u.optional) {
        out.push({ key, type: `object${u.nullable ? ' or null' : ''} (keys below)`, default: u.def !== undefined ? `\`${JSON.stringify(u.def)}\`` : '(unset)', description });
      }
      rowsOf(u.inner, `${key}.`, child, facts, out, nested);
      continue;
    }
    let type = typeText(u.inner);
    if (u.nullable) type += ' or null';
    if (d.type === 'array' && defOf(unwrap(d.element).inner).type === 'object' && child !== undefined) {
      nested.push({ key: `${key}[]`, schema: unwrap(d.element).inner, owner: child });
      type = `list of objects (see \`${key}[]\`)`;
    }
    if (d.type === 'record' && defOf(unwrap(d.valueType).inner).type === 'object' && child !== undefined) {
      nested.push({ key: `${key}.<name>`, schema: unwrap(d.valueType).inner, owner: child });
      type = `map of name → object (see \`${key}.<name>\`)`;
    }
    const dflt = u.def !== undefined ? `\`${JSON.stringify(u.def)}\`` : u.optional ? '(unset)' : '(required)';
    out.push({ key, type, default: dflt, description });
  }
}

/** The drivers' options' comments, under the name the core schema spreads them by. */
function addDriverOptionComments(facts: SourceFacts): void {
  const merged = facts.comments.get('driverStorageOptions') ?? new Map<string, string>();
  for (const source of DRIVER_OPTION_SOURCES) {
    const own = readSource(readFileSync(source.file, 'utf8')).comments.get(source.variable);
    if (own === undefined) throw new Error(`${path.relative(ROOT, source.file)} declares no ${source.variable}`);
    for (const [field, text] of own) merged.set(field, text);
  }
  facts.comments.set('driverStorageOptions', merged);
}

export function renderConfigReference(sourceText = readFileSync(CONFIG_SOURCE, 'utf8')): string {
  const facts = readSource(sourceText);
  addDriverOptionComments(facts);
  const sections = (serviceConfigSchema as unknown as { shape: Record<string, unknown> }).shape;
  const lines: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated by scripts/config-reference.ts from lib/core/config.ts and the drivers\' options',
    '     (drivers/remotefs/options.ts): do not edit by hand;',
    '     run `npx tsx scripts/config-reference.ts` after changing the schema (a test checks it). -->',
    '',
    'One JSON file per deployment: `QCOWSHARE_CONFIG=<path>` (default `config/embedded.json`). Any',
    'key can be overridden from the environment as `QCOWSHARE__<section>__<key>=<value>` (parsed as',
    'JSON when it parses, else taken as a string), e.g. `QCOWSHARE__api__port=9000` or',
    '`QCOWSHARE__db__password=…` (keep secrets in the unit\'s `EnvironmentFile=`, not in the JSON).',
    'The whole file is validated at start; an unknown key or a bad value stops the start with',
    '`CONFIG_INVALID` naming each problem with its path. Relative paths are relative to the',
    'working directory of the process.',
    '',
  ];
  for (const [section, raw] of Object.entries(sections)) {
    const inner = unwrap(raw).inner;
    const owner = facts.children.get(SECTIONS_OWNER)?.get(section) ?? `${SECTIONS_OWNER}.${section}`;
    const rows: Row[] = [];
    const nested: { key: string; schema: any; owner: string }[] = [];
    rowsOf(inner, `${section}.`, owner, facts, rows, nested);
    const sectionDoc = commentFor(facts, SECTIONS_OWNER, section);
    lines.push(`## \`${section}\``, '');
    if (sectionDoc) lines.push(sectionDoc, '');
    const table = (rs: Row[]) => {
      lines.push('| key | type | default | meaning |', '|---|---|---|---|');
      for (const r of rs) lines.push(`| \`${r.key}\` | ${cell(r.type)} | ${cell(r.default)} | ${cell(r.description)} |`);
      lines.push('');
    };
    table(rows);
    for (const n of nested) {
      const nrows: Row[] = [];
      rowsOf(n.schema, `${n.key}.`, n.owner, facts, nrows, []);
      lines.push(`### \`${n.key}\``, '');
      table(nrows);
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  try {
    return script !== undefined && realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const text = renderConfigReference();
  if (process.argv.includes('--check')) {
    const current = readFileSync(REFERENCE_FILE, 'utf8');
    if (current !== text) {
      process.stderr.write(`${path.relative(ROOT, REFERENCE_FILE)} is out of date: run npx tsx scripts/config-reference.ts\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(REFERENCE_FILE, text);
    process.stdout.write(`wrote ${path.relative(ROOT, REFERENCE_FILE)}\n`);
  }
}
