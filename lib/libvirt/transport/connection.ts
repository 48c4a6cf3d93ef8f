/**
 * One socket to libvirtd: framing, serial numbers, replies matched to calls, keepalive answers,
 * and asynchronous messages (events) handed to listeners. Knows nothing about procedures.
 *
 * Calls are written as soon as they are made (pipelining). libvirtd reads at most
 * `max_client_requests` (default 5) calls per client at a time and leaves the rest in the socket
 * until a worker is free, so many calls in flight simply queue; nothing here waits on a reply
 * before sending, which is why a burst cannot deadlock.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { StorageError } from '../../core/errors.js';
import { logger } from '../../core/logger.js';
import { libvirtError, readRemoteError } from '../errors.js';
import { FrameReader, decodePacket, encodePacket, type PacketHeader } from '../packet.js';
import { KeepaliveProc, MessageStatus, MessageType, PROGRAM_VERSION, Program } from '../protocol.js';
import { XdrReader } from '../xdr.js';
import { Keepalive, type KeepaliveOptions } from './keepalive.js';

const log = logger('libvirt-rpc');

interface Pending {
  name: string;
  resolve: (body: Buffer) => void;
  reject: (err: Error) => void;
}

export interface RpcConnectionEvents {
  /** An asynchronous message (event) of the remote or qemu program. */
  message: [header: PacketHeader, body: Buffer];
  /** The connection is gone; every pending and future call fails with this error. */
  disconnect: [err: StorageError];
}

type KnownProgram = keyof typeof PROGRAM_VERSION;

export class RpcConnection extends EventEmitter<RpcConnectionEvents> {
  private readonly frames = new FrameReader();
  private readonly pending = new Map<number, Pending>();
  private nextSerial = 0;
  private closedBy: StorageError | undefined;
  readonly keepalive: Keepalive;

  private constructor(private readonly socket: net.Socket, readonly socketPath: string) {
    super();
    this.keepalive = new Keepalive(() => this.sendKeepalive(KeepaliveProc.PING), (ms) => this.onKeepaliveDead(ms));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(`socket error: ${err.message}`, err));
    socket.on('close', () => this.fail('libvirtd closed the connection'));
  }

  static connect(socketPath: string, timeoutMs = 10_000): Promise<RpcConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path: socketPath });
      const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(new StorageError('LIBVIRT_DISCONNECTED', `cannot connect to libvirtd at ${socketPath}: ${err.message}`, {
          cause: err,
          details: { socketPath },
        }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new RpcConnection(socket, socketPath));
      });
    });
  }

  get closed(): boolean {
    return this.closedBy !== undefined;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Send one call; resolves with the reply's XDR body or rejects with the decoded remote_error. */
  call(program: KnownProgram, procedure: number, body: Buffer, name: string): Promise<Buffer> {
    if (this.closedBy) return Promise.reject(this.disconnectedError(name));
    const serial = this.takeSerial();
    const header = { program, version: PROGRAM_VERSION[program], procedure, type: MessageType.CALL, serial, status: MessageStatus.OK };
    const packet = encodePacket(header, body);
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(serial, { name, resolve, reject });
      this.socket.write(packet);
    });
  }

  /** Stop the socket without a goodbye (the procedure layer sends CONNECT_CLOSE first). */
  destroy(reason = 'connection closed by the client'): void {
    this.fail(reason);
  }

  startKeepalive(options: KeepaliveOptions): void {
    if (!this.closedBy) this.keepalive.start(options);
  }

  private takeSerial(): number {
    // Serials are unsigned 32-bit and wrap; one still waiting for its reply is never reused.
    do {
      this.nextSerial = this.nextSerial >= 0xffff_ffff ? 1 : this.nextSerial + 1;
    } while (this.pending.has(this.nextSerial));
    return this.nextSerial;
  }

  private onData(chunk: Buffer): void {
    this.keepalive.received();
    let frames: Buffer[];
    try {
      frames = this.frames.push(chunk);
    } catch (err) {
      this.fail('unreadable data from libvirtd', err);
      return;
    }
    for (const frame of frames) {
      try {
        this.onFrame(frame);
      } catch (err) {
        this.fail('undecodable message from libvirtd', err);
        return;
      }
    }
  }

  private onFrame(frame: Buffer): void {
    const { header, body } = decodePacket(frame);
    if (header.program === Program.KEEPALIVE) return this.onKeepalive(header);
    if (header.type === MessageType.REPLY) return this.onReply(header, body);
    if (header.type === MessageType.MESSAGE) {
      this.emit('message', header, body);
      return;
    }
    log.warn({ header }, 'ignoring libvirt message of a type this client does not use');
  }

  private onReply(header: PacketHeader, body: Buffer): void {
    const call = this.pending.get(header.serial);
    if (!call) {
      throw new StorageError('LIBVIRT_PROTOCOL_ERROR', `reply with serial ${header.serial} matches no call`, { details: { header } });
    }
    this.pending.delete(header.serial);
    if (header.status === MessageStatus.OK) {
      call.resolve(body);
    } else if (header.status === MessageStatus.ERROR) {
      call.reject(libvirtError(readRemoteError(new XdrReader(body)), call.name));
    } else {
      call.reject(new StorageError('LIBVIRT_PROTOCOL_ERROR', `${call.name}: reply status ${header.status}`));
    }
  }

  private onKeepalive(header: PacketHeader): void {
    if (header.procedure === KeepaliveProc.PING) {
      this.keepalive.stats.pingsReceived++;
      this.sendKeepalive(KeepaliveProc.PONG);
      this.keepalive.stats.pongsSent++;
    } else if (header.procedure === KeepaliveProc.PONG) {
      this.keepalive.stats.pongsReceived++;
    }
  }

  private sendKeepalive(procedure: number): void {
    if (this.closedBy) return;
    const header = {
      program: Program.KEEPALIVE, version: PROGRAM_VERSION[Program.KEEPALIVE], procedure,
      type: MessageType.MESSAGE, serial: 0, status: MessageStatus.OK,
    };
    this.socket.write(encodePacket(header));
  }

  private onKeepaliveDead(silentMs: number): void {
    this.fail(`libvirtd did not answer keepalive pings for ${silentMs} ms`);
  }

  private disconnectedError(name: string): StorageError {
    const reason = this.closedBy?.message ?? 'closed';
    return new StorageError('LIBVIRT_DISCONNECTED', `${name}: not connected to libvirtd (${reason})`, {
      cause: this.closedBy,
      details: { socketPath: this.socketPath },
    });
  }

  private fail(reason: string, cause?: unknown): void {
    if (this.closedBy) return;
    this.closedBy = new StorageError('LIBVIRT_DISCONNECTED', reason, { cause, details: { socketPath: this.socketPath } });
    this.keepalive.stop();
    this.socket.destroy();
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) call.reject(this.disconnectedError(call.name));
    log.debug({ reason, failedCalls: calls.length }, 'libvirt connection closed');
    this.emit('disconnect', this.closedBy);
  }
}
