/**
 * Domain events as typed objects. libvirtd sends each as a MESSAGE of the remote program, tagged
 * with the callback id that CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY returned.
 */
import { EventEmitter } from 'node:events';
import { StorageError } from '../core/errors.js';
import { readDomainRef, type DomainRef } from './domain-ref.js';
import type { PacketHeader } from './packet.js';
import { Program, RemoteProc } from './protocol.js';
import { XdrReader } from './xdr.js';

export interface LifecycleEvent {
  kind: 'lifecycle';
  callbackId: number;
  domain: DomainRef;
  /** A LifecycleEventType value (STARTED, STOPPED, ...). */
  event: number;
  /** Detail code; its meaning depends on `event`. */
  detail: number;
}

export interface BlockJobEvent {
  kind: 'blockJob';
  callbackId: number;
  domain: DomainRef;
  /** The disk's target name (e.g. "vda"), as BLOCK_JOB_2 reports it. */
  disk: string;
  /** A BlockJobType value. */
  type: number;
  /** A BlockJobStatus value. */
  status: number;
}

export interface AgentLifecycleEvent {
  kind: 'agentLifecycle';
  callbackId: number;
  domain: DomainRef;
  /** An AgentLifecycleState value. */
  state: number;
  /** An AgentLifecycleReason value. */
  reason: number;
}

export type DomainEvent = LifecycleEvent | BlockJobEvent | AgentLifecycleEvent;

function decodeBody(procedure: number, r: XdrReader): DomainEvent | undefined {
  switch (procedure) {
    case RemoteProc.DOMAIN_EVENT_CALLBACK_LIFECYCLE:
      return { kind: 'lifecycle', callbackId: r.int(), domain: readDomainRef(r), event: r.int(), detail: r.int() };
    case RemoteProc.DOMAIN_EVENT_BLOCK_JOB_2:
      return { kind: 'blockJob', callbackId: r.int(), domain: readDomainRef(r), disk: r.string(), type: r.int(), status: r.int() };
    case RemoteProc.DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE:
      return { kind: 'agentLifecycle', callbackId: r.int(), domain: readDomainRef(r), state: r.int(), reason: r.int() };
    default:
      return undefined;
  }
}

/** Decode an event message; undefined for messages of events this client does not model. */
export function decodeDomainEvent(header: PacketHeader, body: Buffer): DomainEvent | undefined {
  if (header.program !== Program.REMOTE) return undefined;
  const r = new XdrReader(body);
  const event = decodeBody(header.procedure, r);
  if (event) r.end(`event ${header.procedure}`);
  return event;
}

export interface DomainEventMap {
  lifecycle: [LifecycleEvent];
  blockJob: [BlockJobEvent];
  agentLifecycle: [AgentLifecycleEvent];
  /** Every decoded event, whatever its kind. */
  event: [DomainEvent];
  /** The connection is gone: no more events will come. */
  closed: [StorageError];
}

export class DomainEvents extends EventEmitter<DomainEventMap> {
  private closedBy: StorageError | undefined;

  close(err: StorageError): void {
    if (this.closedBy) return;
    this.closedBy = err;
    this.emit('closed', err);
  }

  dispatch(event: DomainEvent): void {
    switch (event.kind) {
      case 'lifecycle': this.emit('lifecycle', event); break;
      case 'blockJob': this.emit('blockJob', event); break;
      case 'agentLifecycle': this.emit('agentLifecycle', event); break;
    }
    this.emit('event', event);
  }

  /**
   * The first event from now on that satisfies `match`. Call it before starting the action that
   * causes the event (and after registering for it), or a fast event is missed.
   */
  waitFor<E extends DomainEvent>(match: (e: DomainEvent) => e is E, timeoutMs: number, signal?: AbortSignal): Promise<E>;
  waitFor(match: (e: DomainEvent) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<DomainEvent>;
  waitFor(match: (e: DomainEvent) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<DomainEvent> {
    return new Promise((resolve, reject) => {
      if (this.closedBy) return reject(this.closedBy);
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('closed', onClosed);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onEvent = (e: DomainEvent) => { if (match(e)) done(() => resolve(e)); };
      const onClosed = (err: StorageError) => done(() => reject(err));
      const onAbort = () => done(() => reject(signal?.reason));
      const timer = setTimeout(() => done(() => reject(new StorageError('LIBVIRT_TIMEOUT', `no matching libvirt event within ${timeoutMs} ms`))), timeoutMs);
      this.on('event', onEvent);
      this.on('closed', onClosed);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
