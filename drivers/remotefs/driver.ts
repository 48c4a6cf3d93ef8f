/**
 * The RemoteFS volume driver: volumes as qcow2 (or raw) files on local directories, GlusterFS
 * volumes and NFS exports. Each method validates its arguments (ids, sizes), takes the lease of
 * every volume it changes or reads a chain of, checks every file qemu-img will open
 * (chain-check.ts), then runs one small operation module. Snapshot operations are delegated to
 * the snapshot engine (./snapshots/: one module per operation), which relies on the lease taken here.
 */
import { readdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StorageError, isStorageError } from '../../lib/core/errors.js';
import { assertSnapshotId, assertUuid, assertVolumeId, isInfoTempOfVolume, isTempOfVolume, volumeIdsIn } from '../../lib/core/volume-names.js';
import { assertImageFormat } from '../../lib/qemu/formats.js';
import { createShare } from '../../lib/shares/index.js';
import type {
  ActiveFile, AttachmentLookup, Connector, ConnectionInfo, CreatedSnapshot, CreatedVolume, CreateVolumeRequest, DeletedSnapshot, DriverContext,
  ManageableFilter, ManageableListing, ManageableVolume, ManageRef, OpContext, ReconcileReport, RevertedVolume, SnapshotRef, SnapshotTree, VolumeDriver, VolumeDriverFactory, VolumeFormat,
  VolumeRef, VolumeStats, ShareCheck,
} from '../contract/volume-driver.js';
import { verifyTree, type VerifiedTree } from './chain-check.js';
import { remotefsOptionsOf } from './options.js';
import type { AdoptSupport } from '../contract/adopt-support.js';
import type { ConsistencySupport, FactScope, StorageFacts } from '../contract/consistency-support.js';
import type { InterruptedSupport, PendingOnlineIntent, SettledInterruption } from '../contract/interrupted-support.js';
import type { PreparedOverlay, SnapshotMetadataSupport } from '../contract/snapshot-metadata-support.js';
import { assertIdentityKey, processIdentityKey } from './identity-seal.js';
import { connectionInfo } from './connection.js';
import * as consistency from './consistency.js';
import type { RemoteFsEnv } from './env.js';
import { readInfo, writeInfo, type VolumeTree } from './info-file.js';
import { manageExisting, sourceIdOf } from './manage.js';
import { describeManageable, listManageable } from './manageable.js';
import { OnlinePath, type InterruptedOperation } from './online/index.js';
import { giBFromBytes } from '../../lib/core/gib.js';
import { sizeBytesFromGiB } from './paths.js';
import { resolvePerms, type FilePerms } from './perms.js';
import { setupShares } from './setup.js';
import { OVERLAY_BYTES, assertRoom } from './space-check.js';
import { createSnapshotOp } from './snapshots/create.js';
import { deleteSnapshotOp } from './snapshots/delete.js';
import { extendOp } from './snapshots/extend.js';
import type { VolumeLocation, SnapshotOpOptions } from './snapshots/location.js';
import { prepareOverlayOp, commitOverlayOp, abandonOverlayOp, onlineCreateIntent } from './snapshots/overlay-prepare.js';
import { pointFile, treeView } from './snapshots/query.js';
import { settleBeforeOp, removeInfoTempsOp, reconcileOp } from './snapshots/reconcile.js';
import { revertOp } from './snapshots/revert.js';
import { abandonCheckpointRevertOp, collectAfterCheckpointRevertOp, commitCheckpointRevertOp, prepareCheckpointRevertOp } from './snapshots/revert-checkpoint.js';
import { copyIntoNewVolume, type CopySource } from './volume-copy.js';
import { createEmptyVolume } from './volume-create.js';
import { deleteVolumeFiles } from './volume-delete.js';
import { underLeases } from './volume-lease.js';
import { loadSettledTree } from './snapshots/store.js';
import { findVolume, locationOf, requireVolume, type VolumeSite } from './volume-site.js';
import { DRIVER_NAME, DRIVER_VERSION, volumeStats } from './volume-stats.js';
import { checkShares } from './share-check.js';
import type { ExportOptions, ExportSupport, OpenedVolumeExport, ShareFileRef, ExportFile, ImportOntoRequest, ImportRequest } from '../contract/export-support.js';
import type { DeletePreview, DeletePreviewSupport } from '../contract/delete-preview-support.js';
import { previewDeleteOp } from './snapshots/delete-preview.js';
import { openExport } from './export/export-volume.js';
import { checkExportFile, createExportFile, openExportFile, removeExportTemps, writeExportFile } from './export/export-to-share.js';
import { importVolume, type ImportedVolumeTree } from './export/import-volume.js';
import { importOnto, removeImportLeftovers, type ImportedOntoTree } from './export/import-onto.js';
import type { InstanceExportInput, InstanceExportSupport, InstanceImportRequest, OpenedInstanceArchive } from '../contract/instance-export-support.js';
import { openInstanceExport } from './export/export-instance.js';
import { importInstance, removeInstanceImport, type ImportedInstance } from './export/import-instance.js';
import { importedInstanceDisks } from './export/imported-definition.js';
import type { ImportedDisk } from '../contract/imported-instance-support.js';

function assertDetached(vol: VolumeRef, what: string): void {
  if (vol.attachment) {
    throw new StorageError('INVALID_STATE', `volume ${vol.id} is attached to ${vol.attachment.instanceUuid}: detach it before ${what}`, {
      details: { volumeId: vol.id, host: vol.attachment.host },
    });
  }
}

/** An intent of an attached volume's operation (live merge, revert, live extend): its host settles it. */
function onlineIntent(tree: VolumeTree): VolumeTree['intent'] {
  return tree.intent !== null && tree.intent.data.online === true ? tree.intent : null;
}

function assertAttached(vol: VolumeRef): void {
  if (!vol.attachment) throw new StorageError('INVALID_STATE', `volume ${vol.id} is not attached: reconcile settles it`);
}

const SETTLE_OUTCOME = {
  none: 'none', commit_create: 'committed', abandon_create: 'abandoned', finish_merge: 'merged', undo_merge: 'undone', wait: 'waiting', unsettled: 'unsettled',
  complete_extend: 'extended', rollback_extend: 'extend_rolled_back', complete_revert: 'reverted', rollback_revert: 'revert_rolled_back',
} as const;

/** qemu-img convert writes the copy: a preallocation asked of it would be silently dropped. */
function assertCopyPreallocation(req: CreateVolumeRequest): void {
  if (req.preallocation !== undefined && req.preallocation !== 'off') {
    throw new StorageError('VOLUME_TYPE_SPEC_UNSUPPORTED', `preallocation ${req.preallocation} applies to new empty volumes only, not to clones or volumes from snapshots`, {
      details: { spec: 'qcowshare:preallocation', value: req.preallocation },
    });
  }
}

export class RemoteFsDriver implements VolumeDriver, ManageableListing, SnapshotMetadataSupport, InterruptedSupport, AdoptSupport, ConsistencySupport, ExportSupport, InstanceExportSupport, DeletePreviewSupport {
  readonly name = DRIVER_NAME;
  readonly version = DRIVER_VERSION;
  private readonly env: RemoteFsEnv;
  /** Attached volumes: chain changes through the coordinator of the attachment's host. */
  private readonly online: OnlinePath;
  private readonly coordinators: DriverContext['coordinators'];

  constructor(ctx: DriverContext) {
    this.coordinators = ctx.coordinators;
    this.online = new OnlinePath({ coordinators: ctx.coordinators });
    const storage = { ...ctx.config.storage, ...remotefsOptionsOf(ctx.config.storage) };
    let perms: Promise<FilePerms> | undefined;
    this.env = {
      storage,
      shares: storage.shares.map((s) => createShare(s, storage.mountBase)),
      leases: ctx.leases,
      holderId: ctx.holderId,
      log: ctx.logger.child({ driver: DRIVER_NAME }),
      perms: () => (perms ??= resolvePerms(storage.fileOwner, storage.fileMode)),
      identityKey: ctx.identityKey ?? processIdentityKey(),
    };
    assertIdentityKey(this.env.identityKey);
  }

  private sizeBytes(sizeGiB: number): number {
    return sizeBytesFromGiB(sizeGiB, this.env.storage.maxVolumeSizeGiB);
  }

  private format(requested: VolumeFormat | undefined, fallback: VolumeFormat): VolumeFormat {
    const format = requested ?? fallback;
    assertImageFormat(format);
    return format;
  }

  private site(vol: VolumeRef): Promise<VolumeSite> {
    return requireVolume(this.env.shares, vol.id, vol.providerLocation);
  }

  /**
   * Every file of the volume checked before anything opens one (chain-check.ts verifyTree):
   * `headers` and the active file by their headers, frozen files by their recorded identities.
   * Under the volume's lease (`save`), identities recorded on the way are written back, so the
   * next verification of an older info file reads no header again.
   */
  private async verified(site: VolumeSite, tree: VolumeTree, headers: string[], o: { signal?: AbortSignal; save: boolean }): Promise<VerifiedTree> {
    const v = await verifyTree(site.dir, tree, headers, { signal: o.signal, identityKey: this.env.identityKey });
    if (v.recorded && o.save) {
      const loc = await locationOf(this.env, site);
      await writeInfo(site.dir, v.tree, loc.fileMode === undefined ? {} : { mode: loc.fileMode });
    }
    return v;
  }

  doSetup(): Promise<void> {
    return setupShares(this.env);
  }

  async createVolume(req: CreateVolumeRequest, ctx: OpContext = {}): Promise<CreatedVolume> {
    assertVolumeId(req.id);
    const sizeBytes = this.sizeBytes(req.sizeGiB);
    const format = this.format(req.format, this.env.storage.volumeFormat);
    const spec = { format, sizeBytes, preallocation: req.preallocation, sharePattern: req.sharePattern };
    return underLeases(this.env, [req.id], ctx, (signal) => createEmptyVolume(this.env, req.id, spec, signal));
  }

  /**
   * A create a crash interrupted (its database outcome never written): its files are adopted only
   * when complete: the info file's tree with just the base file, that file under its final name
   * (materializeVolume renames it last) and its header verified (chain-check.ts). Else null.
   */
  async adoptInterruptedCreate(volumeId: string, ctx: OpContext = {}): Promise<CreatedVolume | null> {
    assertVolumeId(volumeId);
    return underLeases(this.env, [volumeId], ctx, async (signal) => {
      const site = await findVolume(this.env.shares, volumeId);
      const info = site ? await readInfo(site.dir, volumeId) : null;
      const tree = info?.tree;
      if (!site || !tree || tree.intent !== null || Object.keys(tree.snapshots).length > 0 || Object.keys(tree.files).length !== 1) return null;
      const names = new Set(await readdir(site.dir));
      // A temp image left beside it: the fill did not finish (or an older one crashed): not adopted.
      if (!names.has(tree.active) || [...names].some((n) => isTempOfVolume(n, volumeId))) return null;
      await this.verified(site, tree, [], { signal, save: false });
      return { providerLocation: site.share.address, format: tree.files[tree.active]?.format ?? 'qcow2', sizeGiB: giBFromBytes(tree.sizeBytes) };
    });
  }

  async deleteVolume(vol: VolumeRef, ctx: OpContext = {}): Promise<void> {
    assertVolumeId(vol.id);
    assertDetached(vol, 'deletion');
    await underLeases(this.env, [vol.id], ctx, async () => {
      const home = this.env.shares.find((s) => s.address === vol.providerLocation);
      if (home && !(await home.isMounted())) {
        throw new StorageError('SHARE_UNAVAILABLE', `share ${home.address} of volume ${vol.id} is not mounted`, { details: { share: home.address } });
      }
      const removed = await deleteVolumeFiles(this.env.shares, vol.id);
      this.env.log.info({ volumeId: vol.id, removed }, 'volume deleted');
    });
  }

  async extendVolume(vol: VolumeRef, newSizeGiB: number, ctx: OpContext = {}): Promise<void> {
    assertVolumeId(vol.id);
    const toBytes = this.sizeBytes(newSizeGiB);
    await underLeases(this.env, [vol.id], ctx, async (signal) => {
      const site = await this.site(vol);
      if (vol.attachment) return this.online.extend(await locationOf(this.env, site), vol, toBytes, { ...ctx, signal });
      await settleBeforeOp(await locationOf(this.env, site));
      const tree = await loadSettledTree(site);
      if (toBytes < tree.sizeBytes) {
        throw new StorageError('SIZE_OUT_OF_BOUNDS', `volume ${vol.id}: cannot shrink from ${tree.sizeBytes} to ${toBytes} bytes`, {
          details: { currentBytes: tree.sizeBytes, requestedBytes: toBytes },
        });
      }
      // Only the active file grows; the engine verifies the chain (chain-check.ts) and records the
      // intent so reconcile can finish it.
      await extendOp(await locationOf(this.env, site), toBytes);
    });
  }

  async createClonedVolume(req: CreateVolumeRequest, src: VolumeRef, ctx: OpContext = {}): Promise<CreatedVolume> {
    assertVolumeId(req.id);
    assertVolumeId(src.id);
    if (req.id === src.id) throw new StorageError('INVALID_INPUT', 'a clone needs a new volume id');
    // Never a copy of the file a guest is writing: the storage service clones an attached volume
    // from a temporary snapshot's frozen file (createVolumeFromSnapshot), never through here.
    if (src.attachment) {
      throw new StorageError('INVALID_STATE', `volume ${src.id} is attached: its active file is not copied; clone it from a snapshot's frozen file`, {
        details: { reason: 'CLONE_OF_ATTACHED_VOLUME' },
      });
    }
    const sizeBytes = this.sizeBytes(req.sizeGiB);
    if (req.format !== undefined) assertImageFormat(req.format);
    assertCopyPreallocation(req);
    // The source is located and checked while copyIntoNewVolume prepares the target.
    return underLeases(this.env, [req.id, src.id], ctx, (signal) =>
      copyIntoNewVolume(this.env, this.activeSource(src, signal), { volumeId: req.id, sizeBytes, format: req.format, sharePattern: req.sharePattern }, { ...ctx, signal }));
  }

  /** The source's active file, checked with its chain (under the source's lease). */
  private async activeSource(src: VolumeRef, signal: AbortSignal): Promise<CopySource> {
    const site = await this.site(src);
    const tree = await loadSettledTree(site);
    const insp = (await this.verified(site, tree, [], { signal, save: true })).inspections.get(tree.active);
    const format = tree.files[tree.active]?.format ?? 'qcow2';
    return { dir: site.dir, file: tree.active, format, sizeBytes: insp?.virtualSize ?? tree.sizeBytes };
  }

  async createVolumeFromSnapshot(req: CreateVolumeRequest, snap: SnapshotRef, src: VolumeRef, ctx: OpContext = {}): Promise<CreatedVolume> {
    assertVolumeId(req.id);
    assertVolumeId(src.id);
    assertSnapshotId(snap.id);
    if (snap.volumeId !== src.id) throw new StorageError('INVALID_INPUT', `snapshot ${snap.id} belongs to volume ${snap.volumeId}, not ${src.id}`);
    const sizeBytes = this.sizeBytes(req.sizeGiB);
    if (req.format !== undefined) assertImageFormat(req.format);
    assertCopyPreallocation(req);
    return underLeases(this.env, [req.id, src.id], ctx, (signal) =>
      copyIntoNewVolume(this.env, this.snapshotSource(src, snap.id, signal), { volumeId: req.id, sizeBytes, format: req.format, sharePattern: req.sharePattern }, { ...ctx, signal }));
  }

  /** The file holding a snapshot's point in time, checked with its chain (under the source's lease). */
  private async snapshotSource(src: VolumeRef, snapshotId: string, signal: AbortSignal): Promise<CopySource> {
    const site = await this.site(src);
    const tree = await loadSettledTree(site);
    const point = await pointFile(await locationOf(this.env, site), snapshotId);
    const insp = (await this.verified(site, tree, [point.file], { signal, save: true })).inspections.get(point.file);
    return { dir: site.dir, file: point.file, format: point.format, sizeBytes: insp?.virtualSize ?? point.sizeBytes };
  }

  /** Lease + location for the snapshot engine; an attached volume takes the online path. */
  private async withEngine<T>(vol: VolumeRef, snapshotId: string, ctx: OpContext,
    run: (loc: VolumeLocation, opts: SnapshotOpOptions) => Promise<T>,
    runOnline: (loc: VolumeLocation, ctx: OpContext) => Promise<T>): Promise<T> {
    assertVolumeId(vol.id);
    assertSnapshotId(snapshotId);
    return underLeases(this.env, [vol.id], ctx, async (signal) => {
      const loc = await locationOf(this.env, await this.site(vol));
      if (vol.attachment) return runOnline(loc, { ...ctx, signal });
      // A failure past a commit point (ENOSPC mid-commit) left an intent: finished first, not refused.
      await settleBeforeOp(loc);
      return run(loc, { signal, onProgress: ctx.onProgress, onPhase: ctx.onPhase });
    });
  }

  createSnapshot(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext = {}): Promise<CreatedSnapshot> {
    return this.withEngine(vol, snap.id, ctx, (loc) => createSnapshotOp(loc, snap.id),
      (loc, c) => this.online.createSnapshot(loc, vol, snap.id, c));
  }

  deleteSnapshot(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext = {}): Promise<DeletedSnapshot> {
    return this.withEngine(vol, snap.id, ctx, (loc, o) => deleteSnapshotOp(loc, snap.id, o),
      (loc, c) => this.online.deleteSnapshot(loc, vol, snap.id, c));
  }

  async revertToSnapshot(vol: VolumeRef, snap: SnapshotRef, ctx: OpContext = {}): Promise<RevertedVolume> {
    const r = await this.withEngine<{ sizeBytes: number; active?: ActiveFile; collected: string[] }>(vol, snap.id, ctx,
      async (loc, o) => {
        await assertRoom(loc.dir, OVERLAY_BYTES, `reverting volume ${vol.id}`);
        return revertOp(loc, snap.id, o);
      }, (loc, c) => this.online.revert(loc, vol, snap.id, c));
    return { sizeGiB: giBFromBytes(r.sizeBytes), collected: r.collected, ...(r.active ? { active: r.active } : {}) };
  }

  /** Lease + location, attached volumes allowed (the two-phase live create is made for them). */
  private underVolume<T>(vol: VolumeRef, snapshotId: string, ctx: OpContext, run: (loc: VolumeLocation) => Promise<T>): Promise<T> {
    assertVolumeId(vol.id);
    assertSnapshotId(snapshotId);
    return underLeases(this.env, [vol.id], ctx, async () => run(await locationOf(this.env, await this.site(vol))));
  }

  async prepareSnapshotOverlay(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext = {}): Promise<PreparedOverlay> {
    const p = await this.underVolume(vol, snap.id, ctx, (loc) => prepareOverlayOp(loc, snap.id));
    return { newFile: p.newFile, expectedTop: p.expectedTop, sizeGiB: giBFromBytes(p.sizeBytes) };
  }

  commitSnapshotOverlay(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext = {}): Promise<CreatedSnapshot> {
    return this.underVolume(vol, snap.id, ctx, (loc) => commitOverlayOp(loc, snap.id));
  }

  abandonSnapshotOverlay(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext = {}): Promise<void> {
    return this.underVolume(vol, snap.id, ctx, (loc) => abandonOverlayOp(loc, snap.id));
  }

  prepareCheckpointRevert(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext = {}): Promise<{ newFile: string }> {
    return this.underVolume(vol, snap.id, ctx, async (loc) => {
      await assertRoom(loc.dir, OVERLAY_BYTES, `reverting volume ${vol.id} to a checkpoint`);
      return { newFile: (await prepareCheckpointRevertOp(loc, snap.id)).newFile };
    });
  }

  async commitCheckpointRevert(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext = {}): Promise<{ activeFile: string; sizeGiB: number }> {
    const r = await this.underVolume(vol, snap.id, ctx, (loc) => commitCheckpointRevertOp(loc, snap.id));
    return { activeFile: r.activeFile, sizeGiB: giBFromBytes(r.sizeBytes) };
  }

  abandonCheckpointRevert(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext = {}): Promise<void> {
    return this.underVolume(vol, snap.id, ctx, (loc) => abandonCheckpointRevertOp(loc, snap.id));
  }

  /** Routed like every attached operation: the attachment's host says whether its guest runs. */
  async collectAfterCheckpointRevert(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext = {}): Promise<{ collected: string[]; left: string[]; active: ActiveFile }> {
    const r = await this.underVolume(vol, snap.id, ctx, async (loc) => (vol.attachment
      ? this.online.collectAfterCheckpointRevert(loc, vol, ctx)
      : collectAfterCheckpointRevertOp(loc, null, { signal: ctx.signal, onProgress: ctx.onProgress, onPhase: ctx.onPhase })));
    return { collected: r.collected, left: r.left, active: { file: r.activeFile, format: r.activeFormat } };
  }

  /** The online intent of an attached volume's info file (read only), or null. */
  async pendingOnlineIntent(vol: VolumeRef): Promise<PendingOnlineIntent | null> {
    assertVolumeId(vol.id);
    const info = await readInfo((await this.site(vol)).dir, vol.id);
    const i = info?.tree ? onlineIntent(info.tree) : null;
    return i ? { kind: i.kind, snapshotId: i.snapshotId } : null;
  }

  /** Whether the attachment's guest still has the disk (its coordinator's answer; unreachable throws). */
  guestHasDisk(vol: VolumeRef): Promise<boolean> {
    assertVolumeId(vol.id);
    assertAttached(vol);
    return this.online.guestHasDisk(vol);
  }

  /** The info file's temporaries next to the volume (a write killed before its rename), read only. */
  async infoTemps(vol: VolumeRef): Promise<string[]> {
    assertVolumeId(vol.id);
    return (await readdir((await this.site(vol)).dir)).filter((n) => isInfoTempOfVolume(n, vol.id)).sort();
  }

  /**
   * Remove them, under the volume's lease: no write of the info file runs then, so every such temp
   * is a dead one. Attached volumes too (startup reconcile leaves their files alone).
   */
  removeInfoTemps(vol: VolumeRef, ctx: OpContext = {}): Promise<string[]> {
    assertVolumeId(vol.id);
    return underLeases(this.env, [vol.id], ctx, async () => removeInfoTempsOp(await locationOf(this.env, await this.site(vol))));
  }

  /** An attached volume's interrupted live operation, settled from its host's facts (online/settle.ts). */
  settleInterrupted(vol: VolumeRef, op: InterruptedOperation, ctx: OpContext = {}): Promise<SettledInterruption> {
    assertVolumeId(vol.id);
    assertAttached(vol);
    return underLeases(this.env, [vol.id], ctx, async () => {
      const r = await this.online.settle(await locationOf(this.env, await this.site(vol)), vol, op);
      return {
        outcome: SETTLE_OUTCOME[r.decision.kind], intent: r.intent, ...('reason' in r.decision ? { reason: r.decision.reason } : {}),
        active: { file: r.activeFile, format: r.activeFormat }, sizeGiB: giBFromBytes(r.sizeBytes),
      };
    });
  }

  async getSnapshotTree(vol: VolumeRef): Promise<SnapshotTree> {
    assertVolumeId(vol.id);
    return treeView(await locationOf(this.env, await this.site(vol)));
  }

  /** Read-only: the offline delete's own decision and measurement (delete-preview.ts). */
  async previewSnapshotDelete(snap: SnapshotRef, vol: VolumeRef): Promise<DeletePreview> {
    assertVolumeId(vol.id);
    return previewDeleteOp(await locationOf(this.env, await this.site(vol)), snap.id);
  }

  async initializeConnection(vol: VolumeRef, _connector: Connector): Promise<ConnectionInfo> {
    assertVolumeId(vol.id);
    const site = await this.site(vol);
    const tree = await loadSettledTree(site);
    // The compute host's QEMU opens this chain: the same checks as before our own qemu-img.
    // No lease is held here, so identities are compared but not written back.
    await this.verified(site, tree, [], { save: false });
    return connectionInfo(site.share, this.env.storage.mountBase, tree.active, tree.files[tree.active]?.format ?? 'qcow2');
  }

  async terminateConnection(vol: VolumeRef, _connector: Connector): Promise<void> {
    assertVolumeId(vol.id);
  }

  getVolumeStats(_refresh?: boolean): Promise<VolumeStats> {
    return volumeStats(this.env);
  }

  checkShares(): Promise<ShareCheck[]> {
    return checkShares(this.env.shares);
  }

  async manageExisting(vol: { id: string }, ref: ManageRef, ctx: OpContext = {}): Promise<CreatedVolume> {
    assertVolumeId(vol.id);
    const sourceId = sourceIdOf(ref);
    return underLeases(this.env, [vol.id, sourceId], ctx, () => manageExisting(this.env, vol.id, ref));
  }

  /** Read-only: takes no lease (manage checks everything again under it). */
  listManageableVolumes(filter: ManageableFilter): Promise<ManageableVolume[]> {
    return listManageable(this.env, filter);
  }

  describeManageable(ref: ManageRef): Promise<ManageableVolume> {
    return describeManageable(this.env, ref);
  }

  /** The service forgets the volume; its files stay exactly as they are (Cinder's unmanage). */
  async unmanage(vol: VolumeRef): Promise<void> {
    assertVolumeId(vol.id);
    this.env.log.info({ volumeId: vol.id }, 'volume unmanaged; files left on the share');
  }

  async reconcile(volumeId?: string, attachmentOf?: AttachmentLookup): Promise<ReconcileReport[]> {
    if (volumeId !== undefined) assertVolumeId(volumeId);
    const ids = volumeId !== undefined ? [volumeId] : await this.allVolumeIds();
    const reports: ReconcileReport[] = [];
    for (const id of ids) {
      reports.push(await underLeases(this.env, [id], {}, () => this.reconcileOne(id, attachmentOf)).catch((err: unknown) => ({
        volumeId: id, action: 'failed' as const, details: isStorageError(err) ? `${err.code}: ${err.message}` : String(err),
      })));
    }
    return reports;
  }

  private async allVolumeIds(): Promise<string[]> {
    const ids = new Set<string>();
    for (const share of this.env.shares) {
      if (!(await share.isMounted())) continue;
      for (const id of volumeIdsIn(await readdir(share.mountPoint))) ids.add(id);
    }
    return [...ids].sort();
  }

  /** The snapshot engine settles intents and orphans; it must run under the lease taken by reconcile(). */
  private async reconcileOne(volumeId: string, attachmentOf?: AttachmentLookup): Promise<ReconcileReport> {
    const site = await findVolume(this.env.shares, volumeId);
    if (site === null) return { volumeId, action: 'none', details: 'no files' };
    // Attached: the guest may read or write any file of the chain (a hidden snapshot, an "orphan"
    // a live job just made), so no file is touched here; the coordinator of its host settles it.
    const attached = attachmentOf ? await attachmentOf(volumeId) : null;
    if (attached) {
      const where = `instance ${attached.instanceUuid ?? '?'} on host ${attached.host ?? '?'}`;
      return { volumeId, action: 'left_to_host', details: `attached to ${where}: left to the coordinator of that host` };
    }
    // A live snapshot between prepare and commit: the guest may already write into the overlay,
    // so only the storage service, with the host's report (finalize) or its reaper, settles it.
    const info = await readInfo(site.dir, volumeId);
    const pending = info?.tree ? onlineCreateIntent(info.tree) ?? onlineIntent(info.tree) : null;
    if (pending) return { volumeId, action: 'none', details: `live snapshot ${pending.snapshotId ?? '?'} pending with its host; settled by finalize or the reaper` };
    return reconcileOp(await locationOf(this.env, site));
  }

  /**
   * An export archive (export/), under the lease the caller holds across the stream. An attached
   * volume only as at a temporary snapshot the caller took (o.frozenAt): its file is frozen, the
   * guest writes above it, and the live file is never read.
   */
  async openExport(vol: VolumeRef, o: ExportOptions, ctx: OpContext): Promise<OpenedVolumeExport> {
    assertVolumeId(vol.id);
    if (o.since) assertSnapshotId(o.since);
    if (o.frozenAt) assertSnapshotId(o.frozenAt);
    if (ctx.lease === undefined) throw new StorageError('INVALID_INPUT', 'an export needs the caller to hold the volume\'s lease across the stream');
    if (!o.frozenAt) assertDetached(vol, 'exporting it');
    return underLeases(this.env, [vol.id], ctx, async (signal) => openExport(this.env, await this.site(vol), o, signal));
  }

  /** The archive written to `<share>/exports/<name>` (complete or absent), under the volume's lease. */
  async exportToShare(vol: VolumeRef, o: ExportOptions, target: ShareFileRef, ctx: OpContext = {}): Promise<string> {
    assertVolumeId(vol.id);
    if (o.since) assertSnapshotId(o.since);
    assertDetached(vol, 'exporting it');
    const share = this.exportShare(target.share);
    return underLeases(this.env, [vol.id], ctx, async (signal) => {
      const opened = await openExport(this.env, await this.site(vol), o, signal);
      return writeExportFile(share.mountPoint, target.name, opened, signal);
    });
  }

  private exportShare(address: string): { mountPoint: string } {
    const share = this.env.shares.find((s) => s.address === address);
    if (share === undefined) throw new StorageError('INVALID_INPUT', `share ${address} is not a configured share`, { details: { share: address } });
    return share;
  }

  async checkExportFile(target: ShareFileRef): Promise<void> {
    await checkExportFile(this.exportShare(target.share).mountPoint, target.name);
  }

  createExportFile(target: ShareFileRef, tag: string): Promise<ExportFile> {
    return createExportFile(this.exportShare(target.share).mountPoint, target.name, tag);
  }

  openExportFile(target: ShareFileRef): Promise<{ stream: Readable; bytes: number }> {
    return openExportFile(this.exportShare(target.share).mountPoint, target.name);
  }

  async removeExportTemps(tag: string): Promise<number> {
    let removed = 0;
    for (const share of this.env.shares) removed += await removeExportTemps(share.mountPoint, tag);
    return removed;
  }

  importVolume(source: Readable, req: ImportRequest, ctx: OpContext = {}): Promise<ImportedVolumeTree> {
    return importVolume(this.env, source, req, ctx);
  }

  /** An incremental archive onto a detached volume holding its base (export/import-onto.ts), under its lease. */
  importOnto(target: VolumeRef, source: Readable, req: ImportOntoRequest, ctx: OpContext = {}): Promise<ImportedOntoTree> {
    assertVolumeId(target.id);
    assertDetached(target, 'importing onto it');
    return importOnto(this.env, target, source, req, ctx);
  }

  /** The settle pass's rollback of an import onto the volume that never committed (export/import-onto.ts). */
  removeImportLeftovers(target: VolumeRef, ctx: OpContext = {}): Promise<number> {
    assertVolumeId(target.id);
    return removeImportLeftovers(this.env, target, ctx);
  }

  /**
   * An instance's archive (export/export-instance.ts), its volumes read as they are: the caller
   * has made sure the instance is shut off and holds every volume's lease across the stream.
   */
  async openInstanceExport(input: InstanceExportInput, ctx: OpContext): Promise<OpenedInstanceArchive> {
    for (const v of input.volumes) assertVolumeId(v.ref.id);
    if (ctx.lease === undefined) throw new StorageError('INVALID_INPUT', 'an instance export needs the caller to hold its volumes\' leases across the stream');
    return underLeases(this.env, input.volumes.map((v) => v.ref.id), ctx, async (signal) => {
      const volumes = [];
      for (const v of input.volumes) volumes.push({ site: await this.site(v.ref), records: v.records });
      return openInstanceExport(this.env, { instance: input.instance, volumes, checkpoints: input.checkpoints }, signal);
    });
  }

  importInstance(source: Readable, req: InstanceImportRequest, ctx: OpContext = {}): Promise<ImportedInstance> {
    return importInstance(this.env, source, req, ctx);
  }

  /** The disks of an imported instance's definition on the shares (os-define attaches them). */
  importedInstanceDisks(instanceUuid: string): Promise<ImportedDisk[] | null> {
    assertUuid(instanceUuid, 'instance uuid');
    return importedInstanceDisks(this.env, instanceUuid);
  }

  async removeInstanceImport(ids: { instanceUuid: string; volumeIds: readonly string[] }, ctx: OpContext = {}): Promise<number> {
    assertUuid(ids.instanceUuid, 'instance uuid');
    for (const id of ids.volumeIds) assertVolumeId(id);
    return underLeases(this.env, ids.volumeIds, ctx, () => removeInstanceImport(this.env, ids));
  }

  async removeVolumeFiles(volumeId: string, ctx: OpContext = {}): Promise<number> {
    assertVolumeId(volumeId);
    return underLeases(this.env, [volumeId], ctx, () => deleteVolumeFiles(this.env.shares, volumeId));
  }

  /** The consistency checker's facts (src/api/check): read-only. */
  consistencyFacts(scope: FactScope): Promise<StorageFacts> {
    return consistency.gatherStorageFacts(this.env.shares, this.coordinators, scope);
  }

  /** The checker's orphan repair, under the volume's lease (ctx.lease when the caller holds it). */
  removeOrphanFile(volumeId: string, file: string, ctx: OpContext = {}): Promise<void> {
    assertVolumeId(volumeId);
    return underLeases(this.env, [volumeId], ctx, () => consistency.removeOrphanFile(this.env, volumeId, file));
  }

  /** The checker's leak repair (`qemu-img check -r leaks`), under the volume's lease. */
  repairLeaks(volumeId: string, file: string, ctx: OpContext = {}): Promise<{ leaks: number }> {
    assertVolumeId(volumeId);
    return underLeases(this.env, [volumeId], ctx, (signal) => consistency.repairLeaks(this.env, volumeId, file, signal));
  }
}

export const createRemoteFsDriver: VolumeDriverFactory = (ctx) => new RemoteFsDriver(ctx);
