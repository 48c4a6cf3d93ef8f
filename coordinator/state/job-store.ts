/**
 * Jobs on disk: `<stateDir>/jobs/<id>.json`, each written atomically. The store is the memory of
 * the coordinator across crashes; nothing about a job lives only in RAM.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import type { Job } from '../jobs/job.js';
import { removeDurably, writeJsonAtomic } from './atomic-json.js';

function fileNameOf(id: string): string {
  return /^[A-Za-z0-9_-][\w.-]{0,63}$/.test(id) ? `${id}.json` : `${createHash('sha256').update(id).digest('hex')}.json`;
}

/** Where jobs are persisted (the file store in production; tests may keep them in memory). */
export interface JobRepository {
  save(job: Job): Promise<void>;
  remove(id: string): Promise<void>;
  list(): Promise<Job[]>;
}

export class JobStore implements JobRepository {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'jobs');
  }

  async save(job: Job): Promise<void> {
    await writeJsonAtomic(path.join(this.dir, fileNameOf(job.id)), job);
  }

  async remove(id: string): Promise<void> {
    await removeDurably(path.join(this.dir, fileNameOf(id)));
  }

  async load(id: string): Promise<Job | null> {
    try {
      return JSON.parse(await readFile(path.join(this.dir, fileNameOf(id)), 'utf8')) as Job;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new StorageError('INTERNAL', `cannot read job ${id}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Every persisted job, oldest first. A file that does not parse is an error, not skipped. */
  async list(): Promise<Job[]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const jobs: Job[] = [];
    for (const n of names) {
      const text = await readFile(path.join(this.dir, n), 'utf8');
      try {
        jobs.push(JSON.parse(text) as Job);
      } catch (err) {
        throw new StorageError('INTERNAL', `job file ${n} is not JSON`, { cause: err });
      }
    }
    return jobs.sort((a, b) => a.createdAt - b.createdAt);
  }
}
