/**
 * Share selection by a volume type's qcowshare:share pattern with a real GlusterFS share: the
 * service has a local-directory share and a GlusterFS volume (test/fixtures/gluster.ts); a type
 * whose pattern names the GlusterFS volume places `cinder create --volume-type` there (the file on
 * the GlusterFS mount, in the type's format; nothing on the local share), a type naming the local
 * share places it there. Stock `cinder` CLI (noauth), real RemoteFS driver, SQLite.
 */
import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type supertest from 'supertest';
import { run } from '../../../../lib/core/process.js';
import { mountPointFor } from '../../../../lib/core/share-hash.js';
import type { GlusterVolume } from '../../../fixtures/gluster.js';
import { BACKENDS, eventually, remotefsServiceHooks, type RemotefsService } from '../../../fixtures/api/harness.js';

const USER = 'u-types-gl';
const PROJECT = 'p-types-gl';
const ADMIN = { 'X-Auth-Token': `${USER}:${PROJECT}` };
const backend = BACKENDS.find((b) => b.name === 'sqlite');

describe('api: a volume type\'s share pattern picks a GlusterFS share (cinder CLI, sqlite)', function () {
  this.timeout(600_000);
  let dir: string;
  let gl: GlusterVolume;
  let svc: RemotefsService['svc'];
  let http: ReturnType<typeof supertest>;
  const local = () => path.join(dir, 'share-local');
  if (backend === undefined) throw new Error('no sqlite backend in the harness');
  remotefsServiceHooks(backend, 'qcs-types-gl-', (s) => {
    ({ dir, svc, http } = s);
    gl = s.gluster as GlusterVolume;
  }, { auth: 'noauth', shares: ['share-local'], glusterfs: true });

  const cinder = async (...args: string[]) => (await run('cinder', ['--os-auth-type', 'noauth', '--os-user-id', USER, '--os-project-id', PROJECT, '--os-endpoint', `${svc.url}/v3`, ...args], { timeoutMs: 120_000 })).stdout;
  const field = (out: string, name: string) => new RegExp(`^\\|\\s*${name}\\s*\\|\\s*(\\S+)`, 'm').exec(out)?.[1];
  const available = (id: string) => eventually(async () => {
    const v = (await http.get(`/v3/volumes/${id}`).set(ADMIN).expect(200)).body.volume as { status: string };
    if (v.status === 'error') throw new Error(`volume ${id} went to error`);
    return v.status === 'available' ? v : undefined;
  }, 120_000);

  it('creates the volume of a type naming the GlusterFS volume on it, and of a type naming the local share there', async () => {
    await cinder('type-create', 'on-gluster');
    // The pattern names the GlusterFS volume whatever the host name: *:/<volume>.
    await cinder('type-key', 'on-gluster', 'set', `qcowshare:share=*:/${gl.name}`, 'qcowshare:format=raw');
    await cinder('type-create', 'on-local');
    await cinder('type-key', 'on-local', 'set', `qcowshare:share=${local()}`);

    const g = field(await cinder('create', '1', '--volume-type', 'on-gluster'), 'id') as string;
    const l = field(await cinder('create', '1', '--volume-type', 'on-local'), 'id') as string;
    await available(g);
    await available(l);

    const mounted = mountPointFor(path.join(dir, 'mnt'), gl.address);
    const info = JSON.parse((await run('qemu-img', ['info', '--output=json', '-f', 'raw', path.join(mounted, `volume-${g}`)])).stdout) as { format: string; 'virtual-size': number };
    expect([info.format, info['virtual-size']]).to.deep.equal(['raw', 2 ** 30]);
    // Through the brick too: the file really is on the GlusterFS volume, not a local directory of that name.
    expect(await readdir(gl.brick)).to.include(`volume-${g}`);
    expect(await readdir(local())).to.include(`volume-${l}`).and.to.not.include(`volume-${g}`);
    expect(await readdir(mounted)).to.not.include(`volume-${l}`);
    expect((await http.get(`/v3/volumes/${g}`).set(ADMIN).expect(200)).body.volume).to.include({ volume_type: 'on-gluster', format: 'raw' });

    for (const id of [g, l]) await http.delete(`/v3/volumes/${id}`).set(ADMIN).expect(202);
    await eventually(async () => ((await http.get('/v3/volumes').set(ADMIN).expect(200)).body.volumes.length === 0 ? true : undefined), 120_000);
    expect(await readdir(gl.brick)).to.not.include(`volume-${g}`);
  });
});
