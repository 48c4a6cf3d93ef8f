/**
 * The snapshot engine's public API (issue 3). The driver (drivers/remotefs/driver.ts) calls these
 * while it HOLDS the volume lease; nothing here takes the lease. reconcileVolume in particular
 * must only ever run under the lease: it rolls half-done operations back or forward and removes
 * files the info file does not know.
 */
import { StorageError } from '../../../src/core/errors.js';
import type { CreatedSnapshot, DeletedSnapshot, ReconcileReport, SnapshotTree } from '../../volume-driver.js';

/** Where a volume lives and the limits that apply to it. */
export interface VolumeLocation {
  /** Directory on the mounted share holding volume-<vid>* files. */
  dir: string;
  volumeId: string;
  /** Maximum number of files in the chain from the active file down to its base. */
  maxChainDepth: number;
  /** Mode of files created (default 0o640). */
  fileMode?: number;
  /** Owner to give created files (null/undefined: leave as created). */
  owner?: { uid: number; gid: number } | null;
}

export interface SnapshotOpOptions {
  signal?: AbortSignal;
  onProgress?: (percent: number) => void;
}

export interface SnapshotPoint {
  file: string;
  format: 'qcow2' | 'raw';
  sizeBytes: number;
}

export interface AdoptedVolume {
  activeFile: string;
  format: 'qcow2' | 'raw';
  sizeBytes: number;
  snapshots: string[];
}

function notImplemented(what: string): never {
  throw new StorageError('NOT_IMPLEMENTED', `snapshots: ${what} is not implemented yet`);
}

export async function createSnapshot(_loc: VolumeLocation, _snapshotId: string, _opts: SnapshotOpOptions = {}): Promise<CreatedSnapshot> {
  return notImplemented('createSnapshot');
}

export async function deleteSnapshot(_loc: VolumeLocation, _snapshotId: string, _opts: SnapshotOpOptions = {}): Promise<DeletedSnapshot> {
  return notImplemented('deleteSnapshot');
}

export async function revertToSnapshot(_loc: VolumeLocation, _snapshotId: string, _opts: SnapshotOpOptions = {}): Promise<{ sizeBytes: number }> {
  return notImplemented('revertToSnapshot');
}

export async function snapshotTree(_loc: VolumeLocation): Promise<SnapshotTree> {
  return notImplemented('snapshotTree');
}

export async function snapshotPointFile(_loc: VolumeLocation, _snapshotId: string): Promise<SnapshotPoint> {
  return notImplemented('snapshotPointFile');
}

/** Must run under the volume lease. */
export async function reconcileVolume(_loc: VolumeLocation): Promise<ReconcileReport> {
  return notImplemented('reconcileVolume');
}

/** Manage a volume made by Cinder's NFS driver: owned file of S = backing file of Cinder's info[S]. */
export async function adoptCinderVolume(_loc: VolumeLocation): Promise<AdoptedVolume> {
  return notImplemented('adoptCinderVolume');
}
