/**
 * Basic accessibility checks of a console page in the real browser: a language, a title, one h1
 * in one main landmark, captions and header scopes on tables, an accessible name on every control
 * and link; and the focus order: Tab visits every focusable element, once each, in document
 * order (checked as a cycle, so a page that focuses its Confirm button first passes as well).
 */
import type { Page } from 'playwright-core';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex="0"]';

/**
 * The check as page script text: tsx names the functions it compiles with a helper (__name) that
 * does not exist in the page, so a script with inner functions is passed as text.
 */
const STRUCTURE = `(() => {
  const focusable = ${JSON.stringify("a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex=\"0\"]")};
  const out = [];
  if (!document.documentElement.lang) out.push('html has no lang');
  if (document.title.trim() === '') out.push('no title');
  if (document.querySelectorAll('main').length !== 1) out.push('not exactly one main');
  if (document.querySelectorAll('h1').length !== 1) out.push('not exactly one h1');
  for (const t of document.querySelectorAll('table')) {
    const caption = t.querySelector('caption');
    if (!caption || caption.textContent.trim() === '') out.push('a table without a caption: ' + t.className);
    for (const th of t.querySelectorAll('thead th')) if (th.getAttribute('scope') !== 'col') out.push('a header without scope=col in ' + t.className);
  }
  const byIds = (ids) => (ids || '').split(/\\s+/).map((id) => (document.getElementById(id) || {}).textContent || '').join(' ');
  for (const el of document.querySelectorAll(focusable + ', input, select, textarea')) {
    if (el.tagName.toLowerCase() === 'input' && el.type === 'hidden') continue;
    const labels = el.labels ? [...el.labels].map((l) => l.textContent || '').join(' ') : '';
    const own = ['a', 'button'].includes(el.tagName.toLowerCase()) ? el.textContent || '' : '';
    const name = [el.getAttribute('aria-label') || '', byIds(el.getAttribute('aria-labelledby')), labels, own].join(' ').trim();
    if (name === '') out.push('no accessible name: <' + el.tagName.toLowerCase() + ' ' + (el.getAttribute('name') || el.getAttribute('href') || '') + '>');
  }
  return out;
})()`;

/** What is wrong with the page's structure and names: empty when all is well. */
export async function structureProblems(page: Page): Promise<string[]> {
  return page.evaluate(STRUCTURE) as Promise<string[]>;
}

/** Visible focusable elements in document order, each marked with its index (data-a11y-i). */
async function markFocusable(page: Page): Promise<number> {
  return page.evaluate((focusable) => {
    const els = [...document.querySelectorAll<HTMLElement | SVGElement>(focusable)].filter((e) => e.getClientRects().length > 0);
    els.forEach((e, i) => e.setAttribute('data-a11y-i', String(i)));
    return els.length;
  }, FOCUSABLE);
}

/** Problems with the Tab order (empty: every focusable element reached once, in document order). */
export async function focusOrderProblems(page: Page): Promise<string[]> {
  const n = await markFocusable(page);
  if (n === 0) return ['nothing focusable'];
  const seen: number[] = [];
  // Two rounds: wherever focus starts, a whole cycle lies inside them.
  for (let i = 0; i < 2 * n + 2; i++) {
    await page.keyboard.press('Tab');
    const at = await page.evaluate(() => document.activeElement?.getAttribute('data-a11y-i') ?? null);
    if (at !== null) seen.push(Number(at));
  }
  const problems: string[] = [];
  const missed = [...Array(n).keys()].filter((i) => !seen.includes(i));
  if (missed.length > 0) problems.push(`never focused by Tab: ${missed.join(', ')} of ${n}`);
  for (let i = 1; i < seen.length; i++) {
    const a = seen[i - 1] as number;
    const b = seen[i] as number;
    if (b !== a + 1 && !(a === n - 1 && b === 0)) problems.push(`Tab went from ${a} to ${b} (of ${n})`);
  }
  return problems;
}

/** Presses Tab until the element matching `selector` has the focus (at most `max` presses). */
export async function tabTo(page: Page, selector: string, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}
