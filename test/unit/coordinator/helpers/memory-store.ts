import type { Job } from '../../../../coordinator/jobs/job.js';
import type { JobRepository } from '../../../../coordinator/state/job-store.js';

/** Jobs kept as JSON strings, so a test sees exactly what a restart would read back. */
export class MemoryStore implements JobRepository {
  readonly files = new Map<string, string>();
  readonly history: { id: string; state: string; frozen?: boolean }[] = [];

  async save(job: Job): Promise<void> {
    this.files.set(job.id, JSON.stringify(job));
    this.history.push({ id: job.id, state: job.state, frozen: job.kind === 'snapshot' ? job.frozen : undefined });
  }

  async remove(id: string): Promise<void> {
    this.files.delete(id);
  }

  async list(): Promise<Job[]> {
    return [...this.files.values()].map((s) => JSON.parse(s) as Job);
  }
}
