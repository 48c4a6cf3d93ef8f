/**
 * Ids of the coordinator jobs one storage operation starts. The first job carries the
 * operation's own id (the metadata API finds the operation, and its lease, by it); further jobs
 * of the same operation (hidden snapshots collected after a delete) append `~<n>`, because the
 * coordinator keeps one job per id. The fencing token is the volume lease's token.
 *
 * The operation id comes from the context, or else from the lease the storage service took for
 * the operation (holder `op:<operation id>`, src/api/usecases/operation-runner.ts). A context id
 * `<operation id>~<n>` continues an operation that already ran jobs through another call (a
 * clone's temporary snapshot: created as `<id>`, deleted as `<id>~2`): jobs `~<n>`, `~<n+1>`, ...
 */
import { randomUUID } from 'node:crypto';
import { UUID_SOURCE } from '../../../lib/core/volume-names.js';
import type { OpContext } from '../../contract/volume-driver.js';

const LEASE_HOLDER = new RegExp(`^op:(${UUID_SOURCE})$`);

export class OperationIds {
  private n = 0;
  readonly fencingToken: number;
  private readonly base: string;

  constructor(ctx: OpContext) {
    const fromLease = LEASE_HOLDER.exec(ctx.lease?.holder ?? '')?.[1];
    const continued = /^(.+)~(\d+)$/.exec(ctx.operationId ?? '');
    this.base = continued?.[1] ?? ctx.operationId ?? fromLease ?? randomUUID();
    if (continued) this.n = Math.max(1, Number(continued[2])) - 1;
    this.fencingToken = Math.max(0, ctx.lease?.token ?? 0);
  }

  next(): string {
    this.n += 1;
    return this.n === 1 ? this.base : `${this.base}~${this.n}`;
  }
}
