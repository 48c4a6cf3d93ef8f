/**
 * A scripted libvirtd on a unix socket in a temp directory: speaks the real framing, lets a test
 * decide per call how (and whether) to answer, and can push keepalive and event messages.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FrameReader, decodePacket, encodePacket, type PacketHeader } from '../../../lib/libvirt/packet.js';
import { MessageStatus, MessageType, Program, RemoteProc } from '../../../lib/libvirt/protocol.js';
import { XdrWriter } from '../../../lib/libvirt/xdr.js';

export interface ReceivedCall {
  header: PacketHeader;
  body: Buffer;
}

/** Return a body to answer OK, an error writer to answer ERROR, or 'hold' to keep the call pending. */
export type Answer = Buffer | { error: (w: XdrWriter) => void } | 'hold';
export type Handler = (call: ReceivedCall) => Answer;

const HANDSHAKE: Record<number, (fake: FakeLibvirtd) => Buffer> = {
  [RemoteProc.AUTH_LIST]: (fake) => Buffer.from(new XdrWriter().array(fake.authTypes, (w, v) => w.int(v)).toBuffer()),
  [RemoteProc.AUTH_POLKIT]: () => Buffer.from(new XdrWriter().int(1).toBuffer()),
  [RemoteProc.CONNECT_OPEN]: () => Buffer.alloc(0),
  [RemoteProc.CONNECT_SUPPORTS_FEATURE]: () => Buffer.from(new XdrWriter().int(1).toBuffer()),
  [RemoteProc.CONNECT_CLOSE]: () => Buffer.alloc(0),
};

export class FakeLibvirtd {
  readonly socketPath: string;
  readonly received: ReceivedCall[] = [];
  private readonly dir: string;
  private server: net.Server;
  private clients = new Set<net.Socket>();
  handler: Handler = () => Buffer.alloc(0);
  /** What AUTH_LIST answers (remote_auth_type values). */
  authTypes: number[] = [0];

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-libvirtd-'));
    this.socketPath = path.join(this.dir, 'sock');
    this.server = net.createServer((socket) => this.accept(socket));
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.socketPath, resolve));
  }

  private accept(socket: net.Socket): void {
    this.clients.add(socket);
    socket.on('close', () => this.clients.delete(socket));
    socket.on('error', () => undefined);
    const frames = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of frames.push(chunk)) this.onCall(socket, decodePacket(frame));
    });
  }

  private onCall(socket: net.Socket, call: ReceivedCall): void {
    this.received.push(call);
    if (call.header.type !== MessageType.CALL) return;
    const answer = call.header.program === Program.REMOTE && HANDSHAKE[call.header.procedure] && this.isHandshake(call)
      ? (HANDSHAKE[call.header.procedure] as (f: FakeLibvirtd) => Buffer)(this)
      : this.handler(call);
    if (answer !== 'hold') this.reply(socket, call.header, answer);
  }

  private isHandshake(call: ReceivedCall): boolean {
    return call.header.procedure !== RemoteProc.CONNECT_SUPPORTS_FEATURE || call.body.readInt32BE(0) === 10;
  }

  reply(socket: net.Socket, header: PacketHeader, answer: Buffer | { error: (w: XdrWriter) => void }): void {
    const error = !Buffer.isBuffer(answer);
    const body = error ? (() => { const w = new XdrWriter(); answer.error(w); return w.toBuffer(); })() : answer;
    socket.write(encodePacket({ ...header, type: MessageType.REPLY, status: error ? MessageStatus.ERROR : MessageStatus.OK }, body));
  }

  /** Send a message (event or keepalive) to every client. */
  push(program: number, procedure: number, body: Buffer = Buffer.alloc(0)): void {
    for (const socket of this.clients) {
      socket.write(encodePacket({ program, version: 1, procedure, type: MessageType.MESSAGE, serial: 0, status: MessageStatus.OK }, body));
    }
  }

  /** Drop every client connection abruptly, as a crashing daemon would. */
  dropClients(): void {
    for (const socket of this.clients) socket.destroy();
  }

  async close(): Promise<void> {
    this.dropClients();
    await new Promise((resolve) => this.server.close(resolve));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** remote_error as libvirtd writes it. */
export function writeRemoteError(w: XdrWriter, code: number, domain: number, message: string | null): void {
  w.int(code).int(domain).optional(message, (x, m) => x.string(m)).int(2);
  w.bool(false).bool(false).bool(false).bool(false).int(0).int(0).bool(false);
}
