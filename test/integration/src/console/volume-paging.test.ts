/**
 * Issue 18: the console's volume list in pages, and its filters, in a real browser (Debian
 * chromium through playwright-core) on the real service (SQLite and MariaDB: the keyset paging and
 * the filters are the database's; RemoteFS on a local share).
 * More volumes than a page (1 GiB sparse qcow2 files, made through the API): walking the pages by
 * their "Next page" links reaches every volume the API lists for the caller, once each, also when a
 * volume is created between two pages; a member's pages hold their project's volumes only; an
 * admin filters by project, status and name (the form used by keyboard); bad input is refused
 * with its code. Screenshots: test-artifacts/console/.
 */
import { expect } from 'chai';
import type supertest from 'supertest';
import { BACKENDS, TOKENS, auth, eventually, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { consoleBrowserHooks, screenshot } from '../../../fixtures/console/browser.js';

const PAGE = 4;

for (const backend of BACKENDS) describe(`web console: volume list pages and filters in headless chromium (${backend.name}, remotefs)`, function () {
  this.timeout(600_000);
  let http: ReturnType<typeof supertest>;
  let base = '';
  remotefsServiceHooks(backend, 'qcs-console-paging-', (s) => { http = s.http; base = s.svc.url; });
  const ui = consoleBrowserHooks(() => base);
  const page = ui.page;

  const login = ui.login;

  async function volume(who: 'alice' | 'bob', name: string): Promise<string> {
    const id = (await http.post('/v3/volumes').set(auth(who)).send({ volume: { size: 1, name } }).expect(202)).body.volume.id as string;
    await eventually(async () => ((await http.get(`/v3/volumes/${id}`).set(auth(who)).expect(200)).body.volume.status === 'available' ? true : undefined), 60_000);
    return id;
  }

  /** Every volume the API lists for `who` (all projects for the admin). */
  async function apiIds(who: 'alice' | 'admin'): Promise<string[]> {
    const r = await http.get(`/v3/volumes${who === 'admin' ? '?all_tenants=true' : ''}`).set(auth(who)).expect(200);
    return (r.body.volumes as { id: string }[]).map((v) => v.id);
  }

  const shownIds = (): Promise<string[]> => page().$$eval('tr[data-volume-id]', (els) => els.map((e) => e.getAttribute('data-volume-id') ?? ''));

  /** Follows the "Next page" links from `start`; between the first and second page runs `between` once. */
  async function walk(start: string, between?: () => Promise<void>): Promise<string[][]> {
    await page().goto(`${base}${start}`);
    const pages: string[][] = [];
    for (;;) {
      const ids = await shownIds();
      expect(ids.length, `page ${pages.length + 1}`).to.be.at.most(PAGE);
      pages.push(ids);
      if (pages.length === 1 && between) await between();
      const next = page().locator('nav.pager a[rel=next]');
      if (await next.count() === 0) return pages;
      if (pages.length > 50) throw new Error('more than 50 pages');
      await Promise.all([page().waitForURL(/marker=/), next.click()]);
    }
  }

  const alices: string[] = [];
  const bobs: string[] = [];
  before(async () => {
    await ui.requireChromium();
    // 9 of alice's (three pages of 4 and one short) and 3 of bob's.
    for (let i = 0; i < 9; i++) alices.push(await volume('alice', `pg-a${i}`));
    for (let i = 0; i < 3; i++) bobs.push(await volume('bob', `pg-b${i}`));
    await ui.open();
  });

  it('an admin reaches every volume of every project through the pages, each once, also with a volume created between two pages', async () => {
    await login('admin');
    const before = await apiIds('admin');
    expect(before).to.include.members([...alices, ...bobs]);
    let late = '';
    const pages = await walk(`/console/volumes?limit=${PAGE}`, async () => { late = await volume('alice', 'pg-late'); });
    const seen = pages.flat();
    expect(pages.length).to.be.greaterThan(2);
    expect(new Set(seen).size, 'no volume on two pages').to.equal(seen.length);
    // Newest first: the volume created after the first page is newer than all of it, so on no later page.
    expect(seen.sort()).to.deep.equal([...before].sort());
    expect(late).to.not.equal('');
    // From the start again, it is there, and the total counts it.
    const again = (await walk(`/console/volumes?limit=${PAGE}`)).flat();
    expect(again.sort()).to.deep.equal((await apiIds('admin')).sort());
    expect(again).to.include(late);
    expect(Number(await page().getAttribute('table.volumes', 'data-total'))).to.equal(again.length);
    await screenshot(page(), `volumes-last-page-${backend.name}`);
  });

  it('a member\'s pages hold exactly the volumes of their project; the project filter is refused to them', async () => {
    await login('alice');
    const seen = (await walk(`/console/volumes?limit=${PAGE}`)).flat();
    expect(new Set(seen).size).to.equal(seen.length);
    expect(seen.sort()).to.deep.equal((await apiIds('alice')).sort());
    expect(seen).to.not.include.members(bobs);
    expect(await page().locator('#f-project').count()).to.equal(0);
    const r = await page().goto(`${base}/console/volumes?project=${TOKENS.bob.projectId}`);
    expect(r?.status()).to.equal(403);
    expect(await page().content()).to.not.include(bobs[0]);
    // Their own project is no other project: accepted.
    expect((await page().goto(`${base}/console/volumes?project=${TOKENS.alice.projectId}`))?.status()).to.equal(200);
  });

  it('an admin filters by project, status and name; the filters hold across pages', async () => {
    await login('admin');
    // By project, with the form (keyboard only): bob's three volumes.
    await page().focus('#f-project');
    await page().keyboard.type(TOKENS.bob.projectId);
    await Promise.all([page().waitForURL(/project=/), page().keyboard.press('Enter')]);
    expect((await shownIds()).sort()).to.deep.equal([...bobs].sort());
    // By status: one volume put in error by the admin's reset-state.
    await http.post(`/v3/volumes/${alices[3]}/action`).set(auth('admin')).send({ 'os-reset_status': { status: 'error' } }).expect(202);
    const errored = (await walk(`/console/volumes?status=error&limit=${PAGE}`)).flat();
    expect(errored).to.deep.equal([alices[3]]);
    expect(await page().$eval('#f-status', (e) => (e as HTMLSelectElement).value)).to.equal('error');
    // Available ones, in pages of 4, with the status filter kept by the links: all but the errored one.
    const available = (await walk(`/console/volumes?status=available&limit=${PAGE}`)).flat();
    const want = (await http.get('/v3/volumes?all_tenants=true&status=available').set(auth('admin')).expect(200)).body.volumes.map((v: { id: string }) => v.id) as string[];
    expect(available.sort()).to.deep.equal([...want].sort());
    expect(available).to.not.include(alices[3]);
    // By name (exact).
    await page().goto(`${base}/console/volumes`);
    await page().fill('#f-name', 'pg-a5');
    await Promise.all([page().waitForURL(/name=pg-a5/), page().click('form.filters button[type=submit]')]);
    expect(await shownIds()).to.deep.equal([alices[5]]);
    await screenshot(page(), `volumes-filtered-${backend.name}`);
  });

  it('refuses a bad page size, marker or status, and an unknown marker, with INVALID_INPUT', async () => {
    await login('admin');
    for (const q of ['limit=0', 'limit=201', 'marker=not-a-uuid', 'status=gone']) {
      const r = await page().goto(`${base}/console/volumes?${q}`);
      expect(r?.status(), q).to.equal(400);
      expect(await page().textContent('main'), q).to.include('INVALID_INPUT');
    }
    // A marker that names no volume: refused as the API refuses it, not an empty page.
    const unknown = await page().goto(`${base}/console/volumes?marker=00000000-0000-4000-8000-000000000000`);
    expect(unknown?.status()).to.equal(400);
    expect(await page().textContent('main')).to.include('INVALID_INPUT').and.include('not found');
  });
});
