/** Through the QEMU guest agent: file-system freeze/thaw and raw agent commands. */
import { StorageError } from '../../core/errors.js';
import { writeDomainRef, type DomainRef } from '../domain-ref.js';
import { AgentTimeout } from '../constants.js';
import { Limits, Program, QemuProc, RemoteProc } from '../protocol.js';
import type { RpcConnection } from '../transport/connection.js';
import type { XdrWriter } from '../xdr.js';
import { invoke } from './invoke.js';

function writeMountpoints(w: XdrWriter, dom: DomainRef, mountpoints: readonly string[]): void {
  writeDomainRef(w, dom);
  w.array(mountpoints, (x, m) => x.string(m), Limits.DOMAIN_FSFREEZE_MOUNTPOINTS_MAX).uint(0);
}

/** Freeze the guest's file systems (all when `mountpoints` is empty); returns how many froze. */
export function fsFreeze(rpc: RpcConnection, dom: DomainRef, mountpoints: readonly string[] = []): Promise<number> {
  return invoke(rpc, { number: RemoteProc.DOMAIN_FSFREEZE, name: 'DOMAIN_FSFREEZE' },
    (w) => writeMountpoints(w, dom, mountpoints), (r) => r.int());
}

/**
 * Thaw the guest's file systems. libvirt's QEMU driver (9.0) refuses a mount-point list here
 * (VIR_ERR_ARGUMENT_UNSUPPORTED): it thaws everything, so pass none.
 */
export function fsThaw(rpc: RpcConnection, dom: DomainRef, mountpoints: readonly string[] = []): Promise<number> {
  return invoke(rpc, { number: RemoteProc.DOMAIN_FSTHAW, name: 'DOMAIN_FSTHAW' },
    (w) => writeMountpoints(w, dom, mountpoints), (r) => r.int());
}

/**
 * Send a JSON command to qemu-ga (e.g. {"execute":"guest-ping"}) and return its raw JSON reply.
 * `timeoutSeconds` may be an AgentTimeout value.
 */
export function agentCommand(rpc: RpcConnection, dom: DomainRef, command: string, timeoutSeconds: number = AgentTimeout.DEFAULT): Promise<string | null> {
  return invoke(rpc, { program: Program.QEMU, number: QemuProc.DOMAIN_AGENT_COMMAND, name: 'QEMU_DOMAIN_AGENT_COMMAND' },
    (w) => { writeDomainRef(w, dom); w.string(command).int(timeoutSeconds).uint(0); },
    (r) => r.optional((x) => x.string()));
}

/**
 * Run one qemu-ga command and return its `return` member. An agent-side error ({"error": ...})
 * becomes a LIBVIRT_ERROR from libvirt itself, so only a well-formed reply reaches the parse.
 */
export async function agentExecute<T = unknown>(
  rpc: RpcConnection, dom: DomainRef, execute: string, args?: Record<string, unknown>, timeoutSeconds: number = AgentTimeout.DEFAULT,
): Promise<T> {
  const command = JSON.stringify(args === undefined ? { execute } : { execute, arguments: args });
  const reply = await agentCommand(rpc, dom, command, timeoutSeconds);
  if (reply === null) {
    throw new StorageError('LIBVIRT_PROTOCOL_ERROR', `${execute}: the agent command returned no result`);
  }
  return (JSON.parse(reply) as { return: T }).return;
}
