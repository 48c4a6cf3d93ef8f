/**
 * A minimal XML reader for libvirt's domain XML (the coordinator's, and the storage side's check of an imported definition): elements, attributes, text, the five named
 * entities and numeric references. libvirt writes well-formed XML without DTDs, so this is all
 * the coordinator needs, and it keeps a dependency out of the hot path. Malformed input throws
 * (the caller turns it into LIBVIRT_ERROR context): we never guess at a chain.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    return ENTITIES[ref] ?? whole;
  });
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${Object.entries(ENTITIES).find(([, v]) => v === c)?.[0]};`);
}

const TAG = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:'[^']*'|"[^"]*"))*)\s*(\/?)>/y;
const ATTR = /([\w.:-]+)\s*=\s*(?:'([^']*)'|"([^"]*)")/g;

function parseAttrs(raw: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of raw.matchAll(ATTR)) attrs[m[1] as string] = decodeEntities(m[2] ?? m[3] ?? '');
  return attrs;
}

/** Skip a prolog, comment or processing instruction at `at`; returns the new position or -1. */
function skipMarkup(xml: string, at: number): number {
  for (const [open, close] of [['<?', '?>'], ['<!--', '-->'], ['<!', '>']] as const) {
    if (xml.startsWith(open, at)) {
      const end = xml.indexOf(close, at);
      if (end < 0) throw new Error(`unterminated ${open} at ${at}`);
      return end + close.length;
    }
  }
  return -1;
}

export function parseXml(xml: string): XmlElement {
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  let at = 0;
  while (at < xml.length) {
    const lt = xml.indexOf('<', at);
    const top = stack[stack.length - 1] as XmlElement;
    if (lt < 0) { top.text += decodeEntities(xml.slice(at)); break; }
    if (lt > at) top.text += decodeEntities(xml.slice(at, lt));
    const skipped = skipMarkup(xml, lt);
    if (skipped >= 0) { at = skipped; continue; }
    TAG.lastIndex = lt;
    const m = TAG.exec(xml);
    if (!m) throw new Error(`malformed tag at offset ${lt}`);
    at = TAG.lastIndex;
    const [, closing, name = '', attrs = '', selfClosing] = m;
    if (closing) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}> at offset ${lt}`);
      stack.pop();
      continue;
    }
    const el: XmlElement = { name, attrs: parseAttrs(attrs), children: [], text: '' };
    top.children.push(el);
    if (!selfClosing) stack.push(el);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]?.name}>`);
  const doc = root.children[0];
  if (!doc || root.children.length !== 1) throw new Error('expected exactly one root element');
  return doc;
}

export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

export function children(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}
