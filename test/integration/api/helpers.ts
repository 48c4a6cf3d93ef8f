/** Request helpers shared by the API suites: create things and wait for their final status. */
import { expect } from 'chai';
import { auth, eventually, type TestService, TOKENS } from './harness.js';

type Who = keyof typeof TOKENS;

export async function volumeStatus(t: TestService, id: string, who: Who = 'admin'): Promise<Record<string, unknown> | undefined> {
  const r = await t.http.get(`/v3/volumes/${id}`).set(auth(who));
  return r.status === 200 ? (r.body.volume as Record<string, unknown>) : undefined;
}

export async function waitVolume(t: TestService, id: string, status: string, who: Who = 'admin'): Promise<Record<string, unknown>> {
  return eventually(async () => {
    const v = await volumeStatus(t, id, who);
    return v?.status === status ? v : undefined;
  });
}

export async function waitVolumeGone(t: TestService, id: string): Promise<void> {
  await eventually(async () => ((await t.http.get(`/v3/volumes/${id}`).set(auth('admin'))).status === 404 ? true : undefined));
}

export async function createVolume(t: TestService, who: Who = 'alice', body: Record<string, unknown> = {}): Promise<string> {
  const r = await t.http.post('/v3/volumes').set(auth(who)).send({ volume: { size: 1, ...body } });
  expect(r.status, JSON.stringify(r.body)).to.equal(202);
  const id = r.body.volume.id as string;
  await waitVolume(t, id, 'available', who);
  return id;
}

export async function waitSnapshot(t: TestService, id: string, status: string, who: Who = 'admin', timeoutMs?: number): Promise<Record<string, unknown>> {
  return eventually(async () => {
    const r = await t.http.get(`/v3/snapshots/${id}`).set(auth(who));
    return r.status === 200 && r.body.snapshot.status === status ? (r.body.snapshot as Record<string, unknown>) : undefined;
  }, timeoutMs);
}

export async function createSnapshot(t: TestService, volumeId: string, who: Who = 'alice', name = 'snap'): Promise<string> {
  const r = await t.http.post('/v3/snapshots').set(auth(who)).send({ snapshot: { volume_id: volumeId, name } });
  expect(r.status, JSON.stringify(r.body)).to.equal(202);
  const id = r.body.snapshot.id as string;
  await waitSnapshot(t, id, 'available', who);
  return id;
}

export async function waitOperation(t: TestService, id: string): Promise<Record<string, unknown>> {
  return eventually(async () => {
    const r = await t.http.get(`/v3/operations/${id}`).set(auth('admin'));
    return r.status === 200 && r.body.operation.state !== 'running' ? (r.body.operation as Record<string, unknown>) : undefined;
  });
}
