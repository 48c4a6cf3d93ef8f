/**
 * SIGKILL of the service during an import (issue 15): the upload stalls part way, files of the
 * new volume are on the share under temp names, the service is killed. Nothing is visible (no
 * volume row); once restarted, its pass over interrupted operations (when the dead process's lease
 * has expired) removes every file of the new id and records the operation failed.
 */
import { expect } from 'chai';
import http from 'node:http';
import { readdir } from 'node:fs/promises';
import { killableServiceSuite } from '../../../fixtures/killable-service.js';
import { BACKENDS, auth, eventually } from '../../../fixtures/api/harness.js';
import { volumeWithSnapshot } from '../../../fixtures/api/helpers.js';

const LEASE_TTL_MS = 2000;

for (const backend of BACKENDS) {
  describe(`api: SIGKILL during an import (${backend.name})`, function () {
    this.timeout(300_000);
    const suite = killableServiceSuite(backend, 'qcs-import-killed-', LEASE_TTL_MS);

    it('leaves nothing visible; the restarted service removes the files and fails the operation', async () => {
      let api = await suite.start();
      const { volumeId: vid } = await volumeWithSnapshot(api);
      const archive = (await api.get(`/v3/volumes/${vid}/os-export`).set(auth('alice')).buffer(true)
        .parse((res, cb) => { const c: Buffer[] = []; res.on('data', (d: Buffer) => c.push(d)); res.on('end', () => cb(null, Buffer.concat(c))); }).expect(200)).body as Buffer;
      const volumesBefore = (await api.get('/v3/volumes').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.volumes.length as number;

      // Three quarters of the archive, then nothing: the import waits for the rest with files of the new id written.
      const url = new URL(`${suite.svc!.url}/v3/os-volume-import`);
      const req = http.request(url, { method: 'POST', headers: { ...auth('alice'), 'content-type': 'application/x-tar', 'content-length': String(archive.length) } });
      // The service is killed mid-upload: the client's write fails (EPIPE, ECONNRESET) on the request
      // or, once the request is destroyed, on its socket; both are the expected end of this upload.
      req.on('error', () => undefined);
      req.on('socket', (socket) => socket.on('error', () => undefined));
      req.write(archive.subarray(0, Math.floor(archive.length * 0.75)));
      const others = async () => (await readdir(suite.share)).filter((n) => !n.includes(vid));
      await eventually(async () => ((await others()).some((n) => n.endsWith('.tmp')) ? true : undefined), 60_000);
      await suite.kill();
      req.destroy();
      expect(await others()).to.not.deep.equal([]);

      api = await suite.start();
      expect((await api.get('/v3/volumes').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.volumes.length).to.equal(volumesBefore);
      // The dead process's lease expires after LEASE_TTL_MS; the periodic sweep then settles it.
      await eventually(async () => ((await others()).length === 0 ? true : undefined), 60_000);
      const op = await eventually(async () => {
        const ops = (await api.get('/v3/operations').set(auth('admin')).query({ all_tenants: 'true' })).body.operations as { kind: string; state: string; error: string | null }[];
        const imp = ops.find((o) => o.kind === 'import_volume');
        return imp && imp.state !== 'running' ? imp : undefined;
      }, 60_000);
      expect(op.state).to.equal('failed');
      expect(op.error).to.match(/interrupted before its commit point/);
      expect((await api.get('/v3/volumes').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.volumes.length).to.equal(volumesBefore);
    });
  });
}
