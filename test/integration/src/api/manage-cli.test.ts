/**
 * The admin CLI's manage commands (`volume manageable`, `volume manage`, `volume unmanage`)
 * against the service with the real RemoteFS driver on a local share: a file made by qemu-img
 * is listed, adopted (--wait follows the operation), unmanaged and listed again.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { run } from '../../../../lib/core/process.js';
import type { RunningService } from '../../../../src/api/server.js';
import { ApiError } from '../../../../src/cli/client.js';
import { buildProgram } from '../../../../src/cli/main.js';
import { cliAt } from '../../../fixtures/cli/in-process-cli.js';
import { shareListing } from '../../../fixtures/shares.js';
import { BACKENDS, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

describe('CLI: volume manage / manageable / unmanage (SQLite, local share)', function () {
  this.timeout(300_000);
  let share: string;
  let svc: RunningService;
  remotefsServiceHooks(BACKENDS[0] as (typeof BACKENDS)[number], 'qcs-manage-cli-', (s) => {
    share = path.join(s.dir, 'share');
    svc = s.svc;
  });

  async function cli(token: string, ...args: string[]): Promise<unknown> {
    // --wait prints the accepted answer, then the operation's end state.
    return (await cliAt(svc.url, token, '--json', ...args)).map((l) => JSON.parse(l) as unknown);
  }

  it('documents the three commands in --help', () => {
    const volume = buildProgram().commands.find((c) => c.name() === 'volume');
    const help = volume?.helpInformation() ?? '';
    for (const cmd of ['manage [options] <host> <source-name>', 'manageable [options]', 'unmanage <volume>']) expect(help).to.include(cmd);
  });

  it('lists, manages (--wait), unmanages; a member is refused', async () => {
    const id = randomUUID();
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(share, `volume-${id}`), String(1024 * 1024)]);
    const [listed] = await cli('admin', 'volume', 'manageable', '--host', share) as [{ 'manageable-volumes': { reference: Record<string, string>; safe_to_manage: boolean }[] }];
    expect(listed['manageable-volumes'].find((m) => m.reference['source-name'] === `volume-${id}`)?.safe_to_manage).to.equal(true);

    const before = await shareListing(share);
    const refused = await cli('alice', 'volume', 'manage', share, `volume-${id}`).then(() => null, (err: unknown) => err);
    expect(refused).to.be.instanceOf(ApiError);
    expect((refused as ApiError).code).to.equal('FORBIDDEN');
    expect(await shareListing(share)).to.deep.equal(before);

    const [accepted, done] = await cli('admin', 'volume', 'manage', `storage@remotefs#${share}`, `volume-${id}`, '--name', 'from-cli', '--metadata', 'a=b', '--wait') as [
      { volume: { id: string; status: string } }, { operation: { state: string; kind: string } },
    ];
    expect(accepted.volume).to.include({ id, status: 'creating' });
    expect(done.operation).to.include({ state: 'succeeded', kind: 'manage_volume' });
    const [shown] = await cli('admin', 'volume', 'show', id) as [{ volume: Record<string, unknown> }];
    expect(shown.volume).to.include({ status: 'available', name: 'from-cli' });
    expect(shown.volume.metadata).to.deep.equal({ a: 'b' });

    const files = await shareListing(share);
    expect(await cli('admin', 'volume', 'unmanage', id)).to.deep.equal([{ volume_id: id, unmanaged: true }]);
    expect(await shareListing(share)).to.deep.equal(files);
    const gone = await cli('admin', 'volume', 'show', id).then(() => null, (err: unknown) => err);
    expect((gone as ApiError).code).to.equal('VOLUME_NOT_FOUND');
  });
});
