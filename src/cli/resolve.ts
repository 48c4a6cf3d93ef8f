/**
 * Names wherever ids are: a UUID is taken as an id as it is (the service says whether it
 * exists); anything else must be the exact name of one volume (snapshot, checkpoint) the caller sees,
 * found through the list API. Several with that name: refused, listing them, rather than guessed.
 */
import type { ApiClient } from './client.js';
import { CliError } from './cli-error.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE = 1000;

interface Named { id: string; name: string | null; status?: string; volume_id?: string }

/** Every item of a list route, page after page (the service pages at 1000 by default). */
async function listAll(client: ApiClient, path: string, key: string, query: URLSearchParams): Promise<Named[]> {
  const all: Named[] = [];
  for (let marker: string | undefined; ;) {
    const q = new URLSearchParams(query);
    q.set('limit', String(PAGE));
    if (marker) q.set('marker', marker);
    const { body } = await client.call<Record<string, Named[]>>('GET', `${path}?${q.toString()}`);
    const page = body[key] ?? [];
    all.push(...page);
    if (page.length < PAGE) return all;
    marker = page[page.length - 1]?.id;
  }
}

function pick(kind: 'volume' | 'snapshot' | 'checkpoint', ref: string, items: Named[]): string {
  const matches = items.filter((i) => i.name === ref);
  if (matches.length === 1) return (matches[0] as Named).id;
  if (matches.length === 0) throw new CliError('NAME_NOT_FOUND', `no ${kind} named ${JSON.stringify(ref)} (nor is it a UUID)`, { name: ref });
  const candidates = matches.map((m) => ({ id: m.id, status: m.status ?? null, ...(m.volume_id ? { volume_id: m.volume_id } : {}) }));
  throw new CliError('NAME_AMBIGUOUS',
    `${matches.length} ${kind}s are named ${JSON.stringify(ref)}; give one of their ids:\n${candidates.map((c) => `  ${c.id}${c.status ? ` ${c.status}` : ''}${c.volume_id ? ` (volume ${c.volume_id})` : ''}`).join('\n')}`,
    { name: ref, candidates });
}

export async function volumeId(client: ApiClient, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  // display_name narrows on the server; the exact comparison stays here.
  return pick('volume', ref, await listAll(client, '/v3/volumes/detail', 'volumes', new URLSearchParams({ display_name: ref })));
}

/** `volume`: an id already resolved, to look only among that volume's snapshots. */
export async function snapshotId(client: ApiClient, ref: string, volume?: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  return pick('snapshot', ref, await listAll(client, '/v3/snapshots/detail', 'snapshots', new URLSearchParams(volume ? { volume_id: volume } : {})));
}

/** Checkpoints are listed whole (os-checkpoints has no pages), of the caller's project. */
export async function checkpointId(client: ApiClient, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  const { body } = await client.call<{ checkpoints: Named[] }>('GET', '/v3/os-checkpoints');
  return pick('checkpoint', ref, body.checkpoints ?? []);
}
