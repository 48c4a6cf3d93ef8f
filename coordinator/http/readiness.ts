/**
 * The coordinator's readiness (GET /readyz, open like /healthz): libvirtd answers a call (the
 * list of running domains) and the metadata API (the storage service) answers its liveness, each
 * within a time limit. libvirtd not answering: down (503), nothing live can be done; the metadata
 * API not answering: degraded (jobs run, but their outcome cannot be reported until it answers).
 */
import { storageFetch } from './storage-fetch.js';
import type { LibvirtPort } from '../libvirt/port.js';

export interface CoordinatorCheck {
  name: 'libvirt' | 'metadata-api';
  status: 'ok' | 'down';
  reason?: string;
  latencyMs?: number;
}

export interface CoordinatorReadiness {
  status: 'ready' | 'degraded' | 'down';
  reasons: string[];
  checks: CoordinatorCheck[];
}

export interface ReadinessSources {
  libvirt: Pick<LibvirtPort, 'runningDomains'>;
  metadataApi: string;
  /** CA of an https storage API (coordinator.metadataCaFile), as every other call to it uses. */
  metadataCaFile?: string;
  timeoutMs: number;
}

async function timed(name: CoordinatorCheck['name'], timeoutMs: number, probe: (signal: AbortSignal) => Promise<void>): Promise<CoordinatorCheck> {
  const started = Date.now();
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await Promise.race([probe(signal), new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error(`no answer within ${timeoutMs} ms`))))]);
    return { name, status: 'ok', latencyMs: Date.now() - started };
  } catch (err) {
    return { name, status: 'down', reason: (err as Error).message };
  }
}

export function coordinatorOverall(checks: CoordinatorCheck[]): CoordinatorReadiness {
  const reasons = checks.filter((c) => c.status !== 'ok').map((c) => `${c.name}: ${c.reason ?? c.status}`);
  const libvirtDown = checks.some((c) => c.name === 'libvirt' && c.status === 'down');
  return { status: libvirtDown ? 'down' : reasons.length > 0 ? 'degraded' : 'ready', reasons, checks };
}

export async function coordinatorReadiness(s: ReadinessSources): Promise<CoordinatorReadiness> {
  const checks = await Promise.all([
    timed('libvirt', s.timeoutMs, async () => { await s.libvirt.runningDomains(); }),
    timed('metadata-api', s.timeoutMs, async () => {
      const res = await storageFetch(new URL('/healthz', s.metadataApi), { method: 'GET', headers: {}, timeoutMs: s.timeoutMs, ...(s.metadataCaFile ? { caFile: s.metadataCaFile } : {}) });
      await res.body?.cancel();
      if (res.status !== 200) throw new Error(`GET /healthz answered ${res.status}`);
    }),
  ]);
  return coordinatorOverall(checks);
}
