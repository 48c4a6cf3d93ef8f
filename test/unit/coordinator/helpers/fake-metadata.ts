import type { OperationReport } from '../../../../lib/protocol/assisted-snapshot.js';
import { StorageError } from '../../../../lib/core/errors.js';
import type { CreatedSnapshotMetadata, FinalizeRequest, MetadataApi, ReportTarget } from '../../../../coordinator/metadata/api.js';

/** Records every call; `refusePermit` and `createOverlay` shape its answers. */
export class FakeMetadata implements MetadataApi {
  readonly calls: string[] = [];
  readonly reports: { target: ReportTarget; report: OperationReport }[] = [];
  readonly finalized: { snapshotId: string; request: FinalizeRequest }[] = [];
  refusePermit = false;
  failReports = 0;
  /** Snapshots the storage side has already removed: a report on one answers 404 (NOT_FOUND). */
  readonly gone = new Set<string>();
  /** While set, final reports (completed | failed) wait for it. */
  finalGate: Promise<void> | undefined;
  private n = 0;

  constructor(private readonly createOverlay: (volumeId: string, snapshotId: string) => Promise<string> = async (v, s) => `volume-${v}.${s}`) {}

  async createSnapshotMetadata(volumeId: string): Promise<CreatedSnapshotMetadata> {
    this.n += 1;
    const snapshotId = `00000000-0000-4000-8000-${String(this.n).padStart(12, '0')}`;
    this.calls.push(`create:${volumeId}`);
    const newFile = await this.createOverlay(volumeId, snapshotId);
    return { snapshotId, newFile, operationId: `11111111-0000-4000-8000-${String(this.n).padStart(12, '0')}`, fencingToken: 7 };
  }

  async permit(snapshotId: string): Promise<void> {
    this.calls.push(`permit:${snapshotId}`);
    if (this.refusePermit) throw new StorageError('COMMIT_POINT_REFUSED', 'abandoned');
  }

  async report(target: ReportTarget, report: OperationReport): Promise<void> {
    if (report.status === 'completed' || report.status === 'failed') await this.finalGate;
    if (this.gone.has(target.snapshotId)) throw new StorageError('NOT_FOUND', `metadata API: snapshot ${target.snapshotId} could not be found`);
    if (this.failReports > 0) {
      this.failReports -= 1;
      throw new StorageError('METADATA_API_UNAVAILABLE', 'down');
    }
    this.calls.push(`report:${target.snapshotId}:${report.status}`);
    this.reports.push({ target, report });
  }

  async finalizeSnapshotMetadata(snapshotId: string, request: FinalizeRequest): Promise<void> {
    this.calls.push(`finalize:${snapshotId}:${request.status}`);
    this.finalized.push({ snapshotId, request });
  }
}
