/**
 * The database side of the checker's facts: every volume and snapshot row not deleted (hidden
 * snapshots too), running operations, attachments not detached, and which volumes a live holder
 * leases. Read-only; pages through the repositories so a large database is read in bounded bites.
 */
import type { AttachmentRecord } from '../../db/records.js';
import type { ServiceDeps } from '../context.js';
import type { AttachedVolume } from '../../../drivers/contract/consistency-support.js';
import type { DbFacts } from './facts.js';

const PAGE = 500;

async function allPages<T extends { id: string }>(fetch: (marker: string | undefined) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await fetch(marker);
    out.push(...page);
    if (page.length < PAGE) return out;
    marker = page[page.length - 1]?.id;
  }
}

export async function gatherDbFacts(deps: ServiceDeps, volumeId: string | null, now = Date.now()): Promise<{ facts: DbFacts; attached: AttachedVolume[] }> {
  const sort = [{ key: 'id', dir: 'asc' as const }];
  const volumes = volumeId !== null
    ? [await deps.repos.volumes.get(volumeId)].filter((v) => v !== null && !v.deleted)
    : await allPages((marker) => deps.repos.volumes.list({ projectId: null }, { limit: PAGE, marker, sort }));
  const snapshots = await allPages((marker) => deps.repos.snapshots.list({ projectId: null, includeHidden: true, ...(volumeId !== null ? { volumeId } : {}) }, { limit: PAGE, marker, sort }));
  const operations = await deps.repos.operations.running(volumeId !== null ? { volumeId } : {});
  const ids = [...new Set([...volumes.map((v) => v!.id), ...operations.map((o) => o.volumeId)])];
  const attachments: AttachmentRecord[] = [...(await deps.repos.attachments.activeOfMany(ids)).values()].flat();
  const leased: string[] = [];
  for (const id of ids) {
    const lease = await deps.repos.leases.inspect(id);
    if (lease !== null && lease.expiresAt > now) leased.push(id);
  }
  const facts: DbFacts = {
    volumes: volumes.map((v) => ({ id: v!.id, status: v!.status, attachStatus: v!.attachStatus, sizeGiB: v!.sizeGiB, providerLocation: v!.providerLocation })),
    snapshots: snapshots.map((s) => ({ id: s.id, volumeId: s.volumeId, status: s.status, hidden: s.hidden })),
    operations: operations.map((o) => ({ id: o.id, kind: o.kind, volumeId: o.volumeId, snapshotId: o.snapshotId })),
    attachments: attachments.filter((a) => a.status !== 'detached').map((a) => ({
      // Detaching (os-begin_detaching): the guest still has the disk open, so it counts as attached.
      id: a.id, volumeId: a.volumeId, instanceUuid: a.instanceUuid, host: a.host, activeFile: a.activeFile, status: a.status === 'attaching' ? 'attaching' as const : 'attached' as const,
      ...(a.status === 'attaching' && now - a.updatedAt.getTime() >= deps.config.storage.attachSettleGraceMs ? { stale: true } : {}),
    })),
    leased,
  };
  const attached = attachments
    .filter((a) => (a.status === 'attached' || a.status === 'detaching') && a.instanceUuid && a.host)
    .map((a) => ({ volumeId: a.volumeId, instanceUuid: a.instanceUuid as string, host: a.host as string }));
  return { facts, attached };
}
