/**
 * An instance's presence on this host, and its release before another host restores it.
 *
 * A restore on another compute host (the checkpoint's memory and definition are on the share)
 * must never leave two hosts running the same instance on the same files: the storage service
 * first asks the old host to release it (destroyed, then undefined with its firmware stores and
 * disks kept), and after a crash it asks each host whether it has the instance (presence).
 */
import { StorageError } from '../../lib/core/errors.js';
import {
  DomainState, UndefineFlags, VIR_ERR_NO_DOMAIN, VIR_ERR_OPERATION_INVALID, isLibvirtError, type DomainRef,
} from '../../lib/libvirt/index.js';
import { parseDomainXml } from '../domain/disks.js';
import { lookupDefined, type CheckpointLibvirt } from './runner.js';

export interface InstancePresence {
  /** libvirt here knows the domain (defined, or running transiently). */
  present: boolean;
  /** It runs (or is paused) here. */
  active: boolean;
  /** The active file of each disk (empty when absent). */
  disks: { target: string; file: string | null }[];
}

type PresenceLibvirt = Pick<CheckpointLibvirt, 'lookupByUuid' | 'getState' | 'getXmlDesc'>;

async function presenceOfDomain(libvirt: PresenceLibvirt, dom: DomainRef | null): Promise<InstancePresence> {
  if (dom === null) return { present: false, active: false, disks: [] };
  const { state } = await libvirt.getState(dom);
  const live = parseDomainXml(await libvirt.getXmlDesc(dom));
  return {
    present: true, active: state === DomainState.RUNNING || state === DomainState.PAUSED,
    disks: live.disks.map((d) => ({ target: d.target, file: d.chain[0]?.path ?? null })),
  };
}

export async function presenceOf(libvirt: PresenceLibvirt, instanceUuid: string): Promise<InstancePresence> {
  return presenceOfDomain(libvirt, await lookupDefined(libvirt, instanceUuid));
}

/**
 * Stop the instance here for good: destroyed (its state is being replaced by a checkpoint
 * restored elsewhere, so no shutdown), then undefined, keeping the NVRAM and TPM stores and every
 * disk file (they are the checkpoint's and the volumes'). Idempotent: an absent instance is
 * released already. Answers what was here before.
 */
export async function releaseInstance(libvirt: PresenceLibvirt & Pick<CheckpointLibvirt, 'destroy' | 'undefine'>, instanceUuid: string): Promise<InstancePresence> {
  const dom = await lookupDefined(libvirt, instanceUuid);
  const was = await presenceOfDomain(libvirt, dom);
  if (dom === null) return was;
  const gone = [VIR_ERR_NO_DOMAIN, VIR_ERR_OPERATION_INVALID];
  if (was.active) await libvirt.destroy(dom).catch((err: unknown) => { if (!isLibvirtError(err, gone)) throw err; });
  // A transient domain is gone with the destroy; a persistent one is undefined now.
  await libvirt.undefine(dom, UndefineFlags.KEEP_NVRAM | UndefineFlags.KEEP_TPM).catch((err: unknown) => { if (!isLibvirtError(err, gone)) throw err; });
  const after = await presenceOf(libvirt, instanceUuid);
  if (after.present) throw new StorageError('CONFLICT', `instance ${instanceUuid} is still known to libvirt after its release`, { details: { instanceUuid } });
  return was;
}
