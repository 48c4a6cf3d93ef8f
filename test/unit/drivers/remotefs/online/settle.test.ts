/**
 * The host's job of an interrupted live operation: found by the operation's id (jobs the storage
 * service started), else in the host's job list by the operation a volume of the job names (a
 * compute-initiated snapshot's job has the host's own id); only then absent.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { jobFact } from '../../../../../drivers/remotefs/online/settle.js';
import type { CoordinatorJob, ListedCoordinatorJob } from '../../../../../drivers/remotefs/online/coordinator-client.js';
import { StorageError } from '../../../../../lib/core/errors.js';

function host(byId: Record<string, CoordinatorJob>, listed: ListedCoordinatorJob[]) {
  return {
    job: async (id: string): Promise<CoordinatorJob> => {
      const j = byId[id];
      if (!j) throw new StorageError('NOT_FOUND', `no job ${id}`);
      return j;
    },
    jobs: async (): Promise<ListedCoordinatorJob[]> => listed,
  };
}

describe('settle with the host: the job of an interrupted operation', () => {
  const op = randomUUID();

  it('is the job that carries the operation\'s id', async () => {
    expect(await jobFact(host({ [op]: { id: op, kind: 'merge', state: 'running', progress: 0 } }, []), op)).to.equal('running');
    expect(await jobFact(host({ [op]: { id: op, kind: 'merge', state: 'completed', progress: 100 } }, []), op)).to.equal('ended');
  });

  it('is a compute-initiated snapshot job that names the operation for one of its volumes (a restarted host resuming it past its permit)', async () => {
    const other = { id: randomUUID(), kind: 'snapshot' as const, state: 'completed', progress: 100, volumes: [{ operationId: randomUUID() }] };
    const mine = { id: randomUUID(), kind: 'snapshot' as const, state: 'permitted', progress: 0, volumes: [{ operationId: randomUUID() }, { operationId: op }] };
    expect(await jobFact(host({}, [other, mine]), op)).to.equal('running');
    expect(await jobFact(host({}, [other, { ...mine, state: 'failed' }]), op)).to.equal('ended');
  });

  it('is absent only when neither the id nor any job\'s volumes name the operation; unknown without an operation', async () => {
    expect(await jobFact(host({}, [{ id: randomUUID(), kind: 'merge', state: 'running', progress: 0 }]), op)).to.equal('absent');
    expect(await jobFact(host({}, []), null)).to.equal('unknown');
  });

  it('a host without a job list (404 on it) has only its jobs by id', async () => {
    const noList = {
      job: async (id: string): Promise<CoordinatorJob> => { throw new StorageError('NOT_FOUND', `no job ${id}`); },
      jobs: async (): Promise<ListedCoordinatorJob[]> => { throw new StorageError('NOT_FOUND', 'no route GET /v1/jobs'); },
    };
    expect(await jobFact(noList, op)).to.equal('absent');
  });

  it('an unreachable host is an error, never a fact', async () => {
    const down = {
      job: async (): Promise<CoordinatorJob> => { throw new StorageError('COORDINATOR_UNAVAILABLE', 'down', { details: { unreachable: true } }); },
      jobs: async (): Promise<ListedCoordinatorJob[]> => [],
    };
    const err = await jobFact(down, op).then(() => null, (e: unknown) => e);
    expect((err as StorageError).code).to.equal('COORDINATOR_UNAVAILABLE');
  });
});
