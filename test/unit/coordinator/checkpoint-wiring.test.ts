/** The checkpoint routes in the coordinator daemon: on with coordinator.checkpointDir, off without. */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { parseConfig } from '../../../lib/core/config.js';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/server.js';
import { DIR, VOL, f, harness, silent } from '../../fixtures/coordinator/context.js';

const TOKEN = 'inbound-token-for-tests';

describe('coordinator: checkpoint routes in the daemon', () => {
  let dir: string;
  let running: RunningCoordinator | undefined;

  beforeEach(async () => { dir = await mkdtemp(path.join(tmpdir(), 'coord-ckpt-')); });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function start(checkpointDir: string): Promise<ReturnType<typeof supertest>> {
    const h = harness([{ target: 'vdb', serial: VOL, dir: DIR, chain: [f()] }]);
    const config = parseConfig({ log: { level: 'silent' }, coordinator: {
      port: 0, serviceToken: 'svc-outbound-token-for-tests', inboundToken: TOKEN, selfRegister: false, stateDir: path.join(dir, 'state'), checkpointDir,
    } });
    running = await startCoordinator(config, { port: h.libvirt, metadata: h.metadata, log: silent, verifyChain: async () => undefined });
    return supertest(running.url);
  }

  it('serves them when checkpointDir is set, with the service token, and starts although a revert.json cannot be settled', async () => {
    const share = path.join(dir, 'share');
    const instance = randomUUID();
    // An intent naming a checkpoint that does not exist: the settle pass logs it and the daemon starts.
    await mkdir(path.join(share, 'checkpoints', instance), { recursive: true });
    await writeFile(path.join(share, 'checkpoints', instance, 'revert.json'), JSON.stringify({
      checkpointId: randomUUID(), instanceUuid: instance, phase: 'destroyed', previousDefinition: '<domain/>', overlays: [], paused: false, started: '',
    }));
    const http = await start(share);
    await http.get(`/v1/instances/${instance}/checkpoints`).expect(401);
    const list = await http.get(`/v1/instances/${instance}/checkpoints`).set('x-auth-token', TOKEN).expect(200);
    expect(list.body).to.deep.equal({ checkpoints: [] });
    const bad = await http.get('/v1/instances/not-a-uuid/checkpoints').set('x-auth-token', TOKEN).expect(400);
    expect(bad.body.error.code).to.equal('INVALID_INPUT');
    await http.get(`/v1/instances/${instance}/checkpoints/${randomUUID()}`).set('x-auth-token', TOKEN).expect(404);
    // The other routes are still served behind them.
    await http.get('/v1/jobs').set('x-auth-token', TOKEN).expect(200);
  });

  it('does not serve them when checkpointDir is empty', async () => {
    const http = await start('');
    await http.get(`/v1/instances/${randomUUID()}/checkpoints`).set('x-auth-token', TOKEN).expect(404);
  });
});
