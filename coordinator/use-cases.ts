/**
 * What the routes call: each request shape becomes a validated job admitted by the engine.
 * Routes stay thin (parse, call, answer); the rules live in plans/ and the runners.
 */
import type { MergePlan, NovaCreateRequest, NovaDeleteInfo, SnapshotCreatePlan } from '../lib/protocol/assisted-snapshot.js';
import type { Logger } from '../lib/core/logger.js';
import { parseDomainXml } from './domain/disks.js';
import { buildAssistedSnapshotJob, buildMergeJob, buildNovaMergeJob, locateVolume, type BuildDeps } from './jobs/build-jobs.js';
import type { Engine } from './jobs/engine.js';
import type { Job, QuiescePolicy } from './jobs/job.js';
import type { MetadataApi } from './metadata/api.js';
import { buildInstanceSnapshotJob } from './snapshot/instance-snapshot.js';
import { resolveQuiesce } from './snapshot/preflight.js';

export interface UseCaseDeps extends BuildDeps {
  engine: Engine;
  metadata: MetadataApi;
  log: Logger;
  defaultQuiesce: QuiescePolicy;
}

export interface Admitted { job: Job; created: boolean }

export interface InstanceSnapshotBody {
  volumes: 'all' | string[];
  quiesce?: QuiescePolicy;
  name?: string;
}

export class UseCases {
  constructor(private readonly d: UseCaseDeps) {}

  /** Nova's create, with Nova's meaning: the disk whose serial is volume_id moves onto new_file. */
  async novaCreate(body: NovaCreateRequest): Promise<Admitted> {
    const { volume_id: volumeId, create_info: info } = body.snapshot;
    const id = `nova-create-${info.snapshot_id}`;
    return this.d.engine.submit(id, [volumeId], async () => {
      const at = await locateVolume(this.d.port, volumeId);
      const q = await resolveQuiesce(this.d.port, at.domainUuid, this.d.defaultQuiesce);
      const job = await buildAssistedSnapshotJob(this.d, {
        volumeId, snapshotId: info.snapshot_id, newFile: info.new_file, operationId: id, fencingToken: 0, quiesce: q.policy, dialect: 'nova',
      }, at.domainUuid);
      return withNote(job, q.note);
    });
  }

  novaDelete(snapshotId: string, info: NovaDeleteInfo): Promise<Admitted> {
    return this.d.engine.submit(`nova-delete-${snapshotId}`, [info.volume_id], () => buildNovaMergeJob(this.d, snapshotId, info));
  }

  planCreate(plan: SnapshotCreatePlan): Promise<Admitted> {
    return this.d.engine.submit(plan.operation_id, [plan.volume_id], async () => {
      const at = await locateVolume(this.d.port, plan.volume_id);
      const q = await resolveQuiesce(this.d.port, at.domainUuid, plan.quiesce ?? this.d.defaultQuiesce);
      const job = await buildAssistedSnapshotJob(this.d, {
        volumeId: plan.volume_id, snapshotId: plan.snapshot_id, newFile: plan.new_file, expectedTop: plan.expected_top,
        operationId: plan.operation_id, fencingToken: plan.fencing_token, quiesce: q.policy, dialect: 'ours',
      }, at.domainUuid);
      return withNote(job, q.note);
    });
  }

  planMerge(plan: MergePlan): Promise<Admitted> {
    return this.d.engine.submit(plan.operation_id, [plan.volume_id], () => buildMergeJob(this.d, plan, 'ours'));
  }

  /** Compute-initiated: quiesce preflight first, so `require` refuses before anything is created. */
  async instanceSnapshot(instanceUuid: string, body: InstanceSnapshotBody): Promise<Admitted> {
    // Reserve every volume before the storage side is asked to create anything.
    const serials = parseDomainXml(await this.d.port.domainXml(instanceUuid)).disks.map((d) => d.serial).filter((s): s is string => s !== null);
    const wanted = body.volumes === 'all' ? serials : body.volumes;
    return this.d.engine.submit(undefined, wanted, async () => {
      const q = await resolveQuiesce(this.d.port, instanceUuid, body.quiesce ?? this.d.defaultQuiesce);
      return buildInstanceSnapshotJob(this.d, instanceUuid, {
        volumes: body.volumes, name: body.name ?? `instance-snapshot-${new Date(this.d.clock.now()).toISOString()}`,
        quiesce: q.policy, quiesceNote: q.note,
      });
    });
  }
}

function withNote<J extends Job>(job: J, note: string | undefined): J {
  if (note && job.kind === 'snapshot') job.quiesceNote = note;
  return job;
}
