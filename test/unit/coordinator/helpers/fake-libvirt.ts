/**
 * A fake libvirt domain in the manner of VDSM's live-merge tests: the state is a model that is
 * rendered to domain XML on every read (so the coordinator's XML parsing is always exercised),
 * and block jobs move through the steps real libvirt shows, including its lies: cur == end before
 * the mirror is ready, and the old chain still in the XML for a moment after a pivot.
 */
import path from 'node:path';
import { StorageError } from '../../../../lib/core/errors.js';
import { BlockCommitFlags, BlockJobStatus, BlockJobType } from '../../../../lib/libvirt/constants.js';
import type { Clock } from '../../../../coordinator/clock.js';
import { children, child, parseXml } from '../../../../coordinator/domain/xml.js';
import type { BlockJobHint, BlockJobProgress, LibvirtPort } from '../../../../coordinator/libvirt/port.js';

export interface FakeDisk {
  target: string;
  serial: string | null;
  dir: string;
  /** Bare names, active first. */
  chain: string[];
  format?: string;
  type?: 'file' | 'network';
  device?: 'disk' | 'cdrom';
  mirror?: { job: string; ready: string | null; file: string };
}

interface FakeJob {
  target: string;
  type: number;
  cur: bigint;
  end: bigint;
  result: string[];
  mirrorLag: number;
  pivoted: boolean;
}

function diskXml(d: FakeDisk): string {
  const fmt = d.format ?? 'qcow2';
  const layers = d.chain.slice(1).map((n) => `<backingStore type='file' index='2'><format type='${fmt}'/><source file='${path.join(d.dir, n)}'/>`);
  const mirror = d.mirror ? `<mirror type='file' job='${d.mirror.job}'${d.mirror.ready ? ` ready='${d.mirror.ready}'` : ''}><format type='qcow2'/><source file='${d.mirror.file}'/></mirror>` : '';
  const source = d.type === 'network' ? `<source protocol='gluster' name='vol/${d.chain[0]}'><host name='h'/></source>` : `<source file='${path.join(d.dir, d.chain[0] ?? '')}' index='3'/>`;
  return `<disk type='${d.type ?? 'file'}' device='${d.device ?? 'disk'}'><driver name='qemu' type='${fmt}'/>${source}` +
    `${layers.join('')}<backingStore/>${'</backingStore>'.repeat(layers.length)}${mirror}` +
    `<target dev='${d.target}' bus='virtio'/>${d.serial ? `<serial>${d.serial}</serial>` : ''}<alias name='virtio-disk0'/></disk>`;
}

export function domainXml(uuid: string, name: string, disks: FakeDisk[]): string {
  return `<domain type='qemu' id='3'>\n  <name>${name}</name>\n  <uuid>${uuid}</uuid>\n  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n    ${disks.map(diskXml).join('\n    ')}\n  </devices>\n</domain>`;
}

export class FakeLibvirt implements LibvirtPort {
  readonly calls: string[] = [];
  agent = true;
  freeze: 'ok' | 'fail' | 'hang' = 'ok';
  snapshotBehaviour: 'ok' | 'fail' | 'slow' | 'lost-reply' = 'ok';
  /** Percent of `end` a job advances per poll. */
  jobStep = 25n;
  /** Polls after cur == end before the XML says ready='yes'. */
  mirrorLagPolls = 2;
  /** XML reads after a pivot that still show the old chain. */
  pivotLagReads = 2;
  /** The next N libvirt calls fail as if libvirtd restarted. */
  disconnectCalls = 0;
  /** The job vanishes at its end without changing the chain (a failed job). */
  jobFails = false;
  job: FakeJob | undefined;
  frozen = false;
  private pendingChain: { target: string; chain: string[]; reads: number } | undefined;
  private readonly listeners = new Set<(h: BlockJobHint) => void>();

  constructor(readonly uuid: string, public disks: FakeDisk[], private readonly clock: Clock, readonly name = 'guest') {}

  private disk(target: string): FakeDisk {
    const d = this.disks.find((x) => x.target === target);
    if (!d) throw new StorageError('LIBVIRT_ERROR', `no disk ${target}`);
    return d;
  }

  private maybeDisconnect(what: string): void {
    this.calls.push(what);
    if (this.disconnectCalls > 0) {
      this.disconnectCalls -= 1;
      throw new StorageError('LIBVIRT_DISCONNECTED', 'fake: libvirtd went away');
    }
  }

  private checkDomain(uuid: string): void {
    if (uuid !== this.uuid) throw new StorageError('NOT_FOUND', `no running domain ${uuid}`);
  }

  async runningDomains(): Promise<string[]> {
    return [this.uuid];
  }

  async domainXml(uuid: string): Promise<string> {
    this.checkDomain(uuid);
    this.maybeDisconnect('xml');
    if (this.pendingChain && --this.pendingChain.reads <= 0) {
      this.disk(this.pendingChain.target).chain = this.pendingChain.chain;
      this.pendingChain = undefined;
    }
    return domainXml(this.uuid, this.name, this.disks);
  }

  async snapshotCreate(uuid: string, xml: string, flags: number): Promise<void> {
    this.checkDomain(uuid);
    this.calls.push(`snapshot flags=${flags} frozen=${this.frozen}`);
    if (this.snapshotBehaviour === 'fail') throw new StorageError('LIBVIRT_ERROR', 'fake: snapshot refused');
    if (this.snapshotBehaviour === 'slow') await this.clock.sleep(60_000);
    const disks = children(child(parseXml(xml), 'disks') ?? parseXml('<x/>'), 'disk');
    for (const t of this.disks.map((d) => d.target)) {
      if (!disks.some((d) => d.attrs.name === t)) throw new StorageError('LIBVIRT_ERROR', `fake: disk ${t} not mentioned (would get a generated overlay)`);
    }
    for (const el of disks.filter((d) => d.attrs.snapshot === 'external')) {
      const file = child(el, 'source')?.attrs.file as string;
      const d = this.disk(el.attrs.name as string);
      if (path.dirname(file) !== d.dir) throw new StorageError('LIBVIRT_ERROR', 'fake: overlay outside the disk directory');
      d.chain = [path.basename(file), ...d.chain];
    }
    if (this.snapshotBehaviour === 'lost-reply') throw new StorageError('LIBVIRT_DISCONNECTED', 'fake: connection lost before the reply');
  }

  private startJob(target: string, type: number, result: string[]): void {
    if (this.job) throw new StorageError('LIBVIRT_ERROR', 'fake: block job already active');
    this.job = { target, type, cur: 0n, end: 1000n, result, mirrorLag: this.mirrorLagPolls, pivoted: false };
  }

  async blockCommit(uuid: string, target: string, top: string | null, base: string, flags: number): Promise<void> {
    this.maybeDisconnect(`commit ${target} top=${top && path.basename(top)} base=${path.basename(base)} flags=${flags}`);
    if (flags & BlockCommitFlags.DELETE) throw new Error('the coordinator must never use DELETE');
    if (!(flags & BlockCommitFlags.RELATIVE)) throw new Error('the coordinator must always use RELATIVE');
    const d = this.disk(target);
    const topName = top ? path.basename(top) : d.chain[0] as string;
    const at = d.chain.indexOf(topName);
    const rest = d.chain.slice(d.chain.indexOf(path.basename(base)));
    if (flags & BlockCommitFlags.ACTIVE) {
      this.startJob(target, BlockJobType.ACTIVE_COMMIT, rest);
      d.mirror = { job: 'active-commit', ready: null, file: base };
    } else {
      this.startJob(target, BlockJobType.COMMIT, [...d.chain.slice(0, at), ...rest]);
    }
  }

  async blockPull(uuid: string, target: string, base: string | null, flags: number): Promise<void> {
    this.maybeDisconnect(`pull ${target} base=${base && path.basename(base)} flags=${flags}`);
    const d = this.disk(target);
    const rest = base ? d.chain.slice(d.chain.indexOf(path.basename(base))) : [];
    this.startJob(target, BlockJobType.PULL, [d.chain[0] as string, ...rest]);
  }

  private emit(target: string, status: number): void {
    for (const l of this.listeners) l({ domainUuid: this.uuid, target, status });
  }

  /** One poll = one step of the job. */
  async blockJobInfo(uuid: string, target: string): Promise<BlockJobProgress | null> {
    this.maybeDisconnect(`info ${target}`);
    const j = this.job;
    if (!j || j.target !== target) return null;
    if (j.cur < j.end) {
      j.cur = j.cur + (j.end * this.jobStep) / 100n > j.end ? j.end : j.cur + (j.end * this.jobStep) / 100n;
      return { type: j.type, cur: j.cur, end: j.end };
    }
    if (j.type === BlockJobType.ACTIVE_COMMIT) {
      const d = this.disk(target);
      if (j.mirrorLag-- <= 0 && d.mirror) { d.mirror.ready = 'yes'; this.emit(target, BlockJobStatus.READY); }
      return { type: j.type, cur: j.cur, end: j.end };
    }
    this.job = undefined;
    if (!this.jobFails) this.disk(target).chain = j.result;
    this.emit(target, this.jobFails ? BlockJobStatus.FAILED : BlockJobStatus.COMPLETED);
    return null;
  }

  async pivot(uuid: string, target: string): Promise<void> {
    this.maybeDisconnect(`pivot ${target}`);
    const d = this.disk(target);
    if (!this.job || d.mirror?.ready !== 'yes') throw new StorageError('LIBVIRT_ERROR', 'fake: job not ready for pivot');
    const result = this.job.result;
    this.job = undefined;
    d.mirror = undefined;
    this.pendingChain = { target, chain: result, reads: this.pivotLagReads };
    if (this.pivotLagReads <= 0) { d.chain = result; this.pendingChain = undefined; }
  }

  async abortJob(uuid: string, target: string): Promise<void> {
    this.calls.push(`abort ${target}`);
    this.job = undefined;
    delete this.disk(target).mirror;
  }

  async agentPing(): Promise<void> {
    this.calls.push('ping');
    if (!this.agent) throw new StorageError('LIBVIRT_ERROR', 'fake: QEMU guest agent is not connected');
  }

  async fsFreeze(): Promise<number> {
    this.calls.push('freeze');
    if (!this.agent || this.freeze === 'fail') throw new StorageError('LIBVIRT_ERROR', 'fake: agent unresponsive');
    if (this.freeze === 'hang') await this.clock.sleep(3_600_000);
    // qemu-ga 7.2 answers a second freeze so (seen on the e2e guest).
    if (this.frozen) throw new StorageError('LIBVIRT_ERROR', "fake: Command guest-fsfreeze-freeze has been disabled: the agent is in frozen state");
    this.frozen = true;
    return 1;
  }

  async fsThaw(): Promise<number> {
    this.calls.push('thaw');
    const was = this.frozen;
    this.frozen = false;
    return was ? 1 : 0;
  }

  onBlockJob(listener: (hint: BlockJobHint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {}
}
