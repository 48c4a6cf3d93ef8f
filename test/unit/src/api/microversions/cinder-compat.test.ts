import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parseServiceConfig } from '../../../../../src/api/service-config.js';
import { routeTable } from '../../../../../src/api/app.js';
import type { ServiceDeps } from '../../../../../src/api/context.js';
import { EXTENSIONS, SERVED, actionRows } from '../../../../../src/api/microversions/cinder-compat.js';
import { UNSUPPORTED_RESOURCES } from '../../../../../src/api/microversions/unsupported-resources.js';
import { README, withSection } from '../../../../../scripts/compat-table.js';

// The route table only reads the configuration while it is built.
const routes = routeTable({ config: parseServiceConfig({}) } as unknown as ServiceDeps);
const keys = routes.map((r) => `${r.method.toUpperCase()} ${r.path}`);

describe('README: the Cinder API compatibility table', () => {
  it('has a row for every route of the route table, and no row names a route that does not exist', () => {
    const rowed = [...SERVED, ...EXTENSIONS].flatMap((r) => r.routes);
    expect(keys.filter((k) => !rowed.includes(k)), 'routes without a row').to.deep.equal([]);
    expect(rowed.filter((k) => !keys.includes(k)), 'rows naming no route').to.deep.equal([]);
    expect(new Set(rowed).size, 'a route in two rows').to.equal(rowed.length);
  });

  it('refuses no resource that a route serves (a resource that gets routes leaves the refusals)', () => {
    const served = new Set(routes.filter((r) => r.versioned).map((r) => r.path.split('/')[1]));
    expect(Object.keys(UNSUPPORTED_RESOURCES).filter((p) => served.has(p))).to.deep.equal([]);
  });

  it('lists every action, served or refused, once', () => {
    const names = actionRows().map((a) => `${a.target} ${a.action}`);
    expect(new Set(names).size).to.equal(names.length);
    expect(names).to.include.members(['volume os-extend', 'volume revert', 'volume os-retype', 'snapshot os-force_delete']);
  });

  it('is up to date in the README (else: npx tsx scripts/compat-table.ts)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(withSection(readme) === readme, 'README compatibility table is out of date: run npx tsx scripts/compat-table.ts').to.equal(true);
  });
});
