import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoordinatorClient } from '../../../../drivers/remotefs/online/coordinator-client.js';
import type { MergePlan } from '../../../../lib/protocol/assisted-snapshot.js';

const plan = { operation_id: 'op-1' } as unknown as MergePlan;

async function serve(handler: (n: number, req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; seen: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    n += 1;
    req.resume();
    req.on('end', () => handler(n, req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen: () => n };
}

describe('coordinator client: submitting a plan', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => { s.closeAllConnections(); s.close(r); });
  });

  it('sends the plan again when the answer was lost (the coordinator died after persisting the job)', async () => {
    const s = await serve((n, _req, res) => {
      if (n === 1) return res.socket?.destroy(); // no answer at all
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ job: { id: 'op-1', state: 'running', progress: 0 } }));
    });
    servers.push(s.server);
    const job = await new CoordinatorClient({ endpoint: s.url, token: 't', pollMs: 10 }).submitMerge(plan);
    expect(job.id).to.equal('op-1');
    expect(s.seen()).to.equal(2);
  });

  it('a refusal is not sent again', async () => {
    const s = await serve((_n, _req, res) => res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'CONFLICT', message: 'chain differs' } })));
    servers.push(s.server);
    const err = await new CoordinatorClient({ endpoint: s.url, token: 't', pollMs: 10 }).submitMerge(plan).then(() => null, (e: unknown) => e);
    expect((err as { details: Record<string, unknown> }).details).to.include({ refused: true, status: 409 });
    expect(s.seen()).to.equal(1);
  });

  it('a coordinator that stays silent past the grace is COORDINATOR_UNAVAILABLE', async () => {
    const s = await serve((_n, _req, res) => res.socket?.destroy());
    servers.push(s.server);
    const started = Date.now();
    const err = await new CoordinatorClient({ endpoint: s.url, token: 't', pollMs: 20, unreachableGraceMs: 150 }).submitMerge(plan).then(() => null, (e: unknown) => e);
    expect((err as { code: string }).code).to.equal('COORDINATOR_UNAVAILABLE');
    // It retried within the grace instead of giving up at the first failure (how many times depends on the machine's load)...
    expect(s.seen()).to.be.greaterThan(1);
    // ...and gave up after it: bounded by the grace plus one attempt, far below this on any machine.
    expect(Date.now() - started).to.be.lessThan(60_000);
  });
});
