import { expect } from 'chai';
import { overall, summary, type Check } from '../../../../src/api/readiness.js';
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

  it('summary: the status and the counts of each state, nothing of a check but its state', () => {
    const report = overall([db('ok'), share('/srv/shares/a', 'ok'), share('gl1.example.net:/vols', 'down', 'not mounted at /mnt/q/9f'), share('/srv/shares/c', 'degraded', 'low on space')]);
    const s = summary(report);
    expect(s).to.deep.equal({ status: 'degraded', checks: { total: 4, ok: 2, degraded: 1, down: 1 } });
    for (const revealing of ['/srv', 'gl1', '/mnt', 'low on space', 'share:']) expect(JSON.stringify(s)).not.to.contain(revealing);
    expect(summary(overall([db('down', 'x')]))).to.deep.equal({ status: 'down', checks: { total: 1, ok: 0, degraded: 0, down: 1 } });
  });

  it('coordinator: libvirt down is down; the metadata API down is degraded', () => {
    expect(coordinatorOverall([{ name: 'libvirt', status: 'ok' }, { name: 'metadata-api', status: 'ok' }]).status).to.equal('ready');
    expect(coordinatorOverall([{ name: 'libvirt', status: 'ok' }, { name: 'metadata-api', status: 'down', reason: 'x' }]).status).to.equal('degraded');
    expect(coordinatorOverall([{ name: 'libvirt', status: 'down', reason: 'y' }, { name: 'metadata-api', status: 'ok' }]).status).to.equal('down');
  });
});
