import { expect } from 'chai';
import { overall, publicReport, type Check } from '../../../../src/api/readiness.js';
import { pathRedactor } from '../../../../lib/core/path-redaction.js';
import { coordinatorOverall } from '../../../../coordinator/http/readiness.js';

const db = (status: Check['status'], reason?: string): Check => ({ name: 'database', status, ...(reason ? { reason } : {}) });
const share = (address: string, status: Check['status'], reason?: string): Check => ({ name: `share:${address}`, status, ...(reason ? { reason } : {}) });

describe('readiness: the overall answer from the checks', () => {
  it('ready only when every check is ok', () => {
    expect(overall([db('ok'), share('a', 'ok'), share('b', 'ok')])).to.deep.include({ status: 'ready', reasons: [] });
    expect(overall([db('ok')]).status, 'a driver without share checks').to.equal('ready');
  });

  it('down when the database is down, whatever the shares', () => {
    const r = overall([db('down', 'no answer within 5000 ms'), share('a', 'ok')]);
    expect(r.status).to.equal('down');
    expect(r.reasons).to.deep.equal(['database: no answer within 5000 ms']);
  });

  it('down when no share is usable; degraded when one is down or low on space and another works', () => {
    expect(overall([db('ok'), share('a', 'down', 'not mounted at /m/x'), share('b', 'down', 'not writable: EROFS')]).status).to.equal('down');
    const one = overall([db('ok'), share('a', 'ok'), share('b', 'down', 'directory /s/b is missing')]);
    expect(one.status).to.equal('degraded');
    expect(one.reasons).to.deep.equal(['share:b: directory /s/b is missing']);
    expect(overall([db('ok'), share('a', 'degraded', 'low on space: 1 of 100 bytes free')]).status).to.equal('degraded');
  });

  it('publicReport: every status and reason, no mount point, no host path, the database\'s own error text withheld', () => {
    const redact = pathRedactor([{ dir: '/srv/shares/a', label: 'share a' }, { dir: '/mnt/q/9f', label: 'the mount point of gl1.example.net:/vols' }]);
    const full = overall([
      { name: 'database', status: 'ok', dialect: 'mysql', latencyMs: 3 },
      { name: 'share:/srv/shares/a', status: 'ok', mountPoint: '/srv/shares/a', mounted: true },
      { name: 'share:gl1.example.net:/vols', status: 'down', reason: 'not mounted at /mnt/q/9f', mountPoint: '/mnt/q/9f', mounted: false },
    ]);
    const p = publicReport(full, redact);
    expect(p.status).to.equal(full.status).and.equal('degraded');
    expect(p.checks.map((c) => [c.name, c.status])).to.deep.equal([['database', 'ok'], ['share:share a', 'ok'], ['share:gl1.example.net:/vols', 'down']]);
    expect(p.reasons).to.deep.equal(['share:gl1.example.net:/vols: not mounted at the mount point of gl1.example.net:/vols']);
    for (const revealing of ['/srv', '/mnt', 'mountPoint']) expect(JSON.stringify(p)).not.to.contain(revealing);
    // A driver's error may name the database server: withheld; the module's own timeout text is kept.
    const dbDown = publicReport(overall([db('down', 'connect ECONNREFUSED 10.1.2.3:3306')]), redact);
    expect(dbDown).to.deep.include({ status: 'down', reasons: ['database: the database does not answer'] });
    expect(JSON.stringify(dbDown)).not.to.contain('10.1.2.3');
    expect(publicReport(overall([db('down', 'no answer within 5000 ms')]), redact).reasons).to.deep.equal(['database: no answer within 5000 ms']);
  });

  it('coordinator: libvirt down is down; the metadata API down is degraded', () => {
    expect(coordinatorOverall([{ name: 'libvirt', status: 'ok' }, { name: 'metadata-api', status: 'ok' }]).status).to.equal('ready');
    expect(coordinatorOverall([{ name: 'libvirt', status: 'ok' }, { name: 'metadata-api', status: 'down', reason: 'x' }]).status).to.equal('degraded');
    expect(coordinatorOverall([{ name: 'libvirt', status: 'down', reason: 'y' }, { name: 'metadata-api', status: 'ok' }]).status).to.equal('down');
  });
});
