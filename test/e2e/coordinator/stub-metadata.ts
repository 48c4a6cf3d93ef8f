/**
 * A stand-in for the storage side's metadata API, speaking the shapes of src/api's snapshot
 * actions (os-create_snapshot_metadata, os-request_commit, os-update_snapshot_status,
 * os-finalize_snapshot_metadata). It plays the driver's part too: on create it writes the overlay
 * over the volume's active file on the share, with a bare backing name. Every call is recorded.
 * (The real service needs the storage engine's info files for these volumes; wiring both ends
 * together is the end-to-end issue's job.)
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createOverlay } from '../../fixtures/guest/index.js';

export interface RecordedCall {
  action: string;
  id: string;
  body: Record<string, unknown>;
}

export class StubMetadata {
  readonly calls: RecordedCall[] = [];
  /** volume id → its active file as the storage side knows it. */
  readonly active = new Map<string, string>();
  refuseCommit = false;
  /** Overlays made ahead of time, per volume (a benchmark keeps their creation out of its timing). */
  readonly premade = new Map<string, string[]>();
  url = '';
  private server: Server | undefined;

  constructor(readonly token: string, readonly dir: string, readonly sizeBytes: number) {}

  async start(): Promise<void> {
    const app = express();
    app.use(express.json());
    app.use((req, res, next) => (req.get('x-auth-token') === this.token ? next() : res.status(401).json({ unauthorized: { code: 401 } })));
    app.post('/v3/volumes/:id/action', (req, res, next) => { this.volumeAction(req.params.id, req.body as Record<string, Record<string, unknown>>).then((b) => res.status(202).json(b), next); });
    app.post('/v3/snapshots/:id/action', (req, res) => {
      const [action, body] = Object.entries(req.body as Record<string, Record<string, unknown>>)[0] ?? ['?', {}];
      this.calls.push({ action, id: req.params.id, body });
      if (action === 'os-request_commit' && this.refuseCommit) return void res.status(409).json({ conflictingRequest: { code: 409, error_code: 'OPERATION_ABANDONED', message: 'abandoned' } });
      if (action === 'os-update_snapshot_status' && body.status === 'completed' && typeof body.active_file === 'string') {
        this.active.set(String(body.active_file).slice('volume-'.length, 'volume-'.length + 36), body.active_file);
      }
      res.json({ operation: { id: body.operation_id ?? null } });
    });
    await new Promise<void>((resolve) => { this.server = app.listen(0, '127.0.0.1', () => resolve()); });
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  private async volumeAction(volumeId: string, body: Record<string, Record<string, unknown>>): Promise<unknown> {
    const top = this.active.get(volumeId) ?? `volume-${volumeId}`;
    const ready = this.premade.get(volumeId)?.shift();
    const snapshotId = ready ? ready.slice(`volume-${volumeId}.`.length) : randomUUID();
    const newFile = `volume-${volumeId}.${snapshotId}`;
    if (!ready) await createOverlay(this.dir, top, newFile, this.sizeBytes);
    const operationId = randomUUID();
    this.calls.push({ action: Object.keys(body)[0] ?? '?', id: volumeId, body: { snapshot_id: snapshotId, new_file: newFile } });
    return { snapshot: { id: snapshotId, status: 'creating' }, snapshot_metadata: { snapshot_id: snapshotId, volume_id: volumeId, new_file: newFile, expected_top: top, status: 'creating', operation_id: operationId, fencing_token: 5 } };
  }

  of(action: string): RecordedCall[] {
    return this.calls.filter((c) => c.action === action);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
