/**
 * The one way procedures talk to the transport: encode the args struct, send, decode the ret
 * struct and insist that it consumed the whole reply (a layout mismatch must not pass silently).
 */
import type { RpcConnection } from '../transport/connection.js';
import { Program } from '../protocol.js';
import { XdrReader, XdrWriter } from '../xdr.js';

export type ArgsWriter = (w: XdrWriter) => void;
export type RetReader<T> = (r: XdrReader) => T;

const noArgs: ArgsWriter = () => undefined;
const noRet: RetReader<void> = () => undefined;

export interface Procedure {
  program?: typeof Program.REMOTE | typeof Program.QEMU;
  number: number;
  name: string;
}

export async function invoke<T>(rpc: RpcConnection, proc: Procedure, args: ArgsWriter, ret: RetReader<T>): Promise<T> {
  const w = new XdrWriter();
  args(w);
  const body = await rpc.call(proc.program ?? Program.REMOTE, proc.number, w.toBuffer(), proc.name);
  const r = new XdrReader(body);
  const value = ret(r);
  r.end(proc.name);
  return value;
}

/** A procedure whose reply carries nothing. */
export function invokeVoid(rpc: RpcConnection, proc: Procedure, args: ArgsWriter = noArgs): Promise<void> {
  return invoke(rpc, proc, args, noRet);
}

export { noArgs };
