import { pino } from 'pino';
import { KeyedMutex } from '../../../../lib/core/keyed-mutex.js';
import type { JobContext, JobSettings } from '../../../../coordinator/jobs/context.js';
import { Metrics } from '../../../../coordinator/metrics.js';
import type { OverlayHeader } from '../../../../coordinator/plans/create-plan.js';
import { FakeClock } from './fake-clock.js';
import { FakeLibvirt, type FakeDisk } from './fake-libvirt.js';
import { FakeMetadata } from './fake-metadata.js';
import { MemoryStore } from './memory-store.js';

export const DOM = '6f1c2a4e-0b7d-4c55-9a38-2f0d3c9e1a11';
export const VOL = 'aaaaaaaa-1111-4222-8333-444444444444';
export const S1 = 'bbbbbbbb-1111-4222-8333-444444444444';
export const S2 = 'cccccccc-1111-4222-8333-444444444444';
export const S3 = 'dddddddd-1111-4222-8333-444444444444';
export const DIR = '/mnt/0123456789abcdef0123456789abcdef';
export const OP = 'eeeeeeee-1111-4222-8333-444444444444';

export const f = (s?: string) => (s ? `volume-${VOL}.${s}` : `volume-${VOL}`);

export const silent = pino({ level: 'silent' });

export const SETTINGS: JobSettings = { pollIntervalMs: 500, blockJobTimeoutMs: 60_000, pivotSettleTimeoutMs: 10_000, freezeTimeoutMs: 10_000 };

export interface Harness {
  ctx: JobContext;
  clock: FakeClock;
  libvirt: FakeLibvirt;
  metadata: FakeMetadata;
  store: MemoryStore;
  stopper: AbortController;
}

export function harness(disks: FakeDisk[], settings: Partial<JobSettings> = {}, store = new MemoryStore()): Harness {
  const clock = new FakeClock();
  const libvirt = new FakeLibvirt(DOM, disks, clock);
  const metadata = new FakeMetadata();
  const stopper = new AbortController();
  const ctx: JobContext = {
    port: libvirt, clock, log: silent, store, metadata, metrics: new Metrics(),
    settings: { ...SETTINGS, ...settings }, stopping: stopper.signal, domainLocks: new KeyedMutex(),
  };
  return { ctx, clock, libvirt, metadata, store, stopper };
}

/** An inspector answering from a table of overlay headers keyed by absolute path. */
export function headers(table: Record<string, OverlayHeader>) {
  return async (p: string): Promise<OverlayHeader> => {
    const h = table[p];
    if (!h) throw new Error(`no such file ${p}`);
    return h;
  };
}

export function chainDisk(chain: string[], extra: Partial<FakeDisk> = {}): FakeDisk {
  return { target: 'vdb', serial: VOL, dir: DIR, chain, ...extra };
}
