/**
 * A second instance on a taken port stops before it does anything: no database opened (so no
 * migration and no reconcile), no share set up; its message names the configuration key and the
 * environment variable that choose another port. In-process and through the real `serve`; the
 * coordinator likewise.
 */
import { spawn } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { startService } from '../../../../src/api/server.js';
import { startCoordinator } from '../../../../coordinator/server.js';
import { silent } from '../../../fixtures/coordinator/context.js';
import { REPO_ROOT } from '../../../fixtures/guest/paths.js';

const exists = (p: string) => access(p).then(() => true, () => false);

describe('storage service: a port already in use fails before any start-up work', function () {
  this.timeout(120_000);
  let dir: string;
  let holder: Server;
  let port: number;
  let raw: Record<string, unknown>;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-port-'));
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    port = (holder.address() as { port: number }).port;
    raw = {
      log: { level: 'silent' },
      db: { dialect: 'sqlite', storage: path.join(dir, 'db.sqlite') },
      api: { host: '127.0.0.1', port, auth: 'noauth' },
      storage: { driver: 'remotefs', shares: [{ type: 'local', address: path.join(dir, 'share') }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null },
    };
  });
  after(async () => {
    await new Promise<void>((resolve) => holder.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('in process: PORT_IN_USE naming api.port and QCOWSHARE__api__port; nothing opened or set up', async () => {
    const err = await startService({ config: parseServiceConfig(raw), reaperIntervalMs: 0 }).then(() => null, (e: unknown) => e as { code?: string; message: string });
    expect(err?.code).to.equal('PORT_IN_USE');
    expect(err?.message).to.contain(`port ${port}`).and.contain('"api.port"').and.contain('QCOWSHARE__api__port=');
    expect(await exists(path.join(dir, 'db.sqlite')), 'database opened').to.equal(false);
    expect(await exists(path.join(dir, 'share')), 'driver set up').to.equal(false);
    expect(await exists(path.join(dir, 'leases')), 'driver set up').to.equal(false);
  });

  it('the coordinator: PORT_IN_USE naming coordinator.port before libvirt or its job journal is touched', async () => {
    const stateDir = path.join(dir, 'coordinator-state');
    const config = parseServiceConfig({ log: { level: 'silent' }, coordinator: { host: '127.0.0.1', port, libvirtUri: 'qemu:///system', selfRegister: false, stateDir } });
    const err = await startCoordinator(config, { log: silent }).then((c) => c.stop().then(() => null), (e: unknown) => e as { code?: string; message: string });
    expect(err?.code).to.equal('PORT_IN_USE');
    expect(err?.message).to.contain('"coordinator.port"').and.contain('QCOWSHARE__coordinator__port=');
    expect(await exists(stateDir), 'job journal opened').to.equal(false);
  });

  it('`serve`: exits 1 with that message on stderr, database untouched', async () => {
    const configFile = path.join(dir, 'serve.json');
    await writeFile(configFile, JSON.stringify(raw));
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), 'serve', '--config', configFile], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stderr).to.equal(1);
    expect(stdout).to.equal('');
    expect(stderr).to.contain(`port ${port} on 127.0.0.1 is already in use`).and.contain('QCOWSHARE__api__port=<port>');
    expect(await exists(path.join(dir, 'db.sqlite'))).to.equal(false);
  });
});
