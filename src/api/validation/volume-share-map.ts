/**
 * The instance import's per-volume share mapping (issue 15 item 4), as the request carries it: the
 * body is the archive, so the mapping is in the query, `volume_share=<archived volume id>:<share>`
 * once per volume. The id is a uuid (no colon), so the first colon splits it off and a share
 * address keeps its own colons (`host:/volume`, `server:/export`). Whether the id is one of the
 * archive's and the share a configured one is the driver's check once the manifest is read
 * (drivers/remotefs/export/share-map.ts), before anything is recorded or written.
 */
import { StorageError } from '../../../lib/core/errors.js';
import { UUID_PATTERN } from '../../../lib/core/volume-names.js';

const MAX_ENTRIES = 256;
const MAX_SHARE = 1024;

function invalid(message: string, details: Record<string, unknown>): StorageError {
  return new StorageError('IMPORT_SHARE_MAP_INVALID', message, { details });
}

/** Pure: the query value(s) (absent, one string or several) -> archived volume id -> share address. */
export function parseVolumeShares(raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  const items = Array.isArray(raw) ? raw : [raw];
  if (items.length > MAX_ENTRIES) throw invalid(`volume_share is given ${items.length} times (at most ${MAX_ENTRIES})`, { reason: 'malformed' });
  const out: Record<string, string> = {};
  for (const item of items) {
    if (typeof item !== 'string') throw invalid('volume_share must be <archived volume id>:<share>', { reason: 'malformed' });
    const at = item.indexOf(':');
    const id = at < 0 ? '' : item.slice(0, at).toLowerCase();
    const share = at < 0 ? '' : item.slice(at + 1);
    if (!UUID_PATTERN.test(id) || share === '' || share.length > MAX_SHARE || share.trim() !== share) {
      throw invalid(`volume_share ${JSON.stringify(item.slice(0, 200))} is not <archived volume id>:<share>`, { reason: 'malformed' });
    }
    if (Object.hasOwn(out, id)) throw invalid(`volume_share names volume ${id} twice`, { reason: 'duplicate', volume_id: id });
    out[id] = share;
  }
  return out;
}
