/**
 * The driver's live paths and the service's checkpoint calls read a coordinator's answer by the one rule of
 * lib/protocol/coordinator-call.ts: no redirect followed with the
 * host's credential, a non-JSON answer is "no answer", a refusal keeps the coordinator's own code.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { coordinatorCall } from '../../../../lib/protocol/coordinator-call.js';

describe('coordinatorCall: one rule for a coordinator\'s answer', () => {
  let server: Server;
  let url = '';
  const seen: { path: string; token: string | undefined }[] = [];
  const answers: Record<string, (res: import('node:http').ServerResponse) => void> = {
    '/redirect': (res) => { res.writeHead(307, { location: '/elsewhere' }).end(); },
    '/html': (res) => { res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>'); },
    '/refused': (res) => { res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'PLAN_MISMATCH', message: 'chain moved' } })); },
    '/unknown-code': (res) => { res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NO_SUCH_CODE_HERE' } })); },
    '/empty': (res) => { res.writeHead(204).end(); },
    '/ok': (res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"job":{"id":"j"}}'); },
  };

  before(async () => {
    server = createServer((req, res) => {
      seen.push({ path: req.url ?? '', token: req.headers['x-auth-token'] as string | undefined });
      (answers[req.url ?? ''] ?? ((r) => r.writeHead(404).end()))(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const call = (pathname: string, unknownCode?: 'COORDINATOR_UNAVAILABLE') => coordinatorCall({
    endpoint: url, token: 'host-secret', method: 'GET', pathname, timeoutMs: 10_000, label: 'coordinator of h1', details: { host_name: 'h1' },
    ...(unknownCode ? { unknownCode } : {}),
  }).then((v) => ({ ok: v }), (e: { code: string; details: Record<string, unknown>; message: string }) => ({ err: e }));

  it('answers the JSON object; an empty body is {}', async () => {
    expect(await call('/ok')).to.deep.equal({ ok: { job: { id: 'j' } } });
    expect(await call('/empty')).to.deep.equal({ ok: {} });
  });

  it('refuses a redirect without following it: the credential went to the registered endpoint only', async () => {
    const before = seen.length;
    const r = await call('/redirect');
    expect(r).to.have.property('err');
    expect((r as { err: { code: string; details: Record<string, unknown> } }).err.code).to.equal('COORDINATOR_UNAVAILABLE');
    expect((r as { err: { details: Record<string, unknown> } }).err.details).to.include({ refused: true, status: 307, host_name: 'h1' });
    expect(seen.slice(before).map((s) => s.path)).to.deep.equal(['/redirect']);
  });

  it('takes a non-JSON answer as no answer (unreachable), and keeps a refusal\'s own code', async () => {
    const html = (await call('/html')) as { err: { code: string; details: Record<string, unknown> } };
    expect([html.err.code, html.err.details.unreachable, html.err.details.refused]).to.deep.equal(['COORDINATOR_UNAVAILABLE', true, undefined]);
    const refused = (await call('/refused')) as { err: { code: string; details: Record<string, unknown>; message: string } };
    expect([refused.err.code, refused.err.details.refused, refused.err.details.status]).to.deep.equal(['PLAN_MISMATCH', true, 409]);
    expect(refused.err.message).to.include('coordinator of h1').and.include('chain moved');
    expect(((await call('/unknown-code')) as { err: { code: string } }).err.code).to.equal('INTERNAL');
    expect(((await call('/unknown-code', 'COORDINATOR_UNAVAILABLE')) as { err: { code: string } }).err.code).to.equal('COORDINATOR_UNAVAILABLE');
  });

  it('no answer at all is COORDINATOR_UNAVAILABLE flagged unreachable', async () => {
    const r = (await coordinatorCall({ endpoint: 'http://127.0.0.1:1', token: 't', method: 'GET', pathname: '/x', timeoutMs: 5000 })
      .then(() => null, (e: { code: string; details: Record<string, unknown> }) => e));
    expect([r?.code, r?.details.unreachable]).to.deep.equal(['COORDINATOR_UNAVAILABLE', true]);
  });
});
