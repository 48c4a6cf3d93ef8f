/**
 * Counters and histograms that code deep in the product feeds (drivers, lease handling) without
 * a metrics object passed down to it: one prom-client registry per process, which the storage
 * service's /metrics appends to its own series. Counters only grow, so services that share a
 * process (tests) only share totals.
 */
import { Counter, Histogram, Registry } from 'prom-client';

export const processRegistry = new Registry();

const bytesMoved = new Counter({
  name: 'qcowshare_bytes_moved_total',
  help: 'Bytes moved by data-moving work: kind = merge (snapshot delete: commit or pull), copy (clone, volume from snapshot), export.',
  labelNames: ['kind'] as const,
  registers: [processRegistry],
});

const leaseEvents = new Counter({
  name: 'qcowshare_volume_lease_events_total',
  help: 'Per-volume lease contention: event = wait (a request waited for a recovery pass), conflict (answered VOLUME_BUSY).',
  labelNames: ['event'] as const,
  registers: [processRegistry],
});

const operationDuration = new Histogram({
  name: 'qcowshare_operation_duration_seconds',
  help: 'Asynchronous operations from start to end, by kind and outcome (succeeded, failed).',
  labelNames: ['kind', 'outcome'] as const,
  buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
  registers: [processRegistry],
});

export type MovedKind = 'merge' | 'copy' | 'export';

/** Hook for the code that moves a volume's data. */
export function recordBytesMoved(kind: MovedKind, bytes: number): void {
  if (Number.isFinite(bytes) && bytes > 0) bytesMoved.inc({ kind }, bytes);
}

export function recordLeaseEvent(event: 'wait' | 'conflict'): void {
  leaseEvents.inc({ event });
}

export function recordOperationDuration(kind: string, outcome: 'succeeded' | 'failed' | 'abandoned', seconds: number): void {
  operationDuration.observe({ kind, outcome }, Math.max(0, seconds));
}
