/**
 * The volume list page's query (pure): page size, marker, and the filters by name, status and
 * project. Keyset paging as the API's (the marker is the id of the last volume of the previous
 * page, newest first), so a volume created or deleted between two pages neither repeats nor
 * hides another. Bad values are refused with INVALID_INPUT, never ignored or clamped quietly.
 */
import { StorageError } from '../../lib/core/errors.js';
import type { VolumeStatus } from '../db/records.js';
import { uuid } from '../api/validation/common.js';

/** A page reads every listed volume's info file (its allocated bytes): kept small by default. */
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;

export const VOLUME_STATUSES: readonly VolumeStatus[] = [
  'creating', 'available', 'reserved', 'in-use', 'attaching', 'detaching', 'deleting', 'error',
  'error_deleting', 'extending', 'error_extending', 'reverting', 'maintenance',
];

export interface VolumeListQuery {
  limit: number;
  marker?: string;
  /** Exact name, as the API's name filter. */
  name?: string;
  status?: VolumeStatus;
  /** Another project than the caller's: admins only (checked by the caller of this parser). */
  project?: string;
}

function text(q: Record<string, unknown>, key: string, max: number): string | undefined {
  const v = q[key];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new StorageError('INVALID_INPUT', `${key} must be given once`);
  if (v.length > max) throw new StorageError('INVALID_INPUT', `${key} must be at most ${max} characters`);
  return v;
}

/** Parses the page's query string (empty fields of the filter form mean "no filter"). */
export function parseVolumeListQuery(q: Record<string, unknown>): VolumeListQuery {
  const out: VolumeListQuery = { limit: DEFAULT_PAGE };
  const limit = text(q, 'limit', 10);
  if (limit !== undefined) {
    if (!/^[0-9]+$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_PAGE) {
      throw new StorageError('INVALID_INPUT', `limit must be a whole number from 1 to ${MAX_PAGE}`);
    }
    out.limit = Number(limit);
  }
  const marker = text(q, 'marker', 64);
  if (marker !== undefined) {
    if (!uuid.safeParse(marker).success) throw new StorageError('INVALID_INPUT', 'marker must be a UUID (the last volume of the previous page)');
    out.marker = marker;
  }
  const name = text(q, 'name', 255);
  if (name !== undefined) out.name = name;
  const status = text(q, 'status', 32);
  if (status !== undefined) {
    if (!VOLUME_STATUSES.includes(status as VolumeStatus)) throw new StorageError('INVALID_INPUT', `status must be one of ${VOLUME_STATUSES.join(', ')}`);
    out.status = status as VolumeStatus;
  }
  const project = text(q, 'project', 255);
  if (project !== undefined) out.project = project;
  return out;
}

/** The query string of a page with the same filters (undefined values left out), for links. */
export function volumeListHref(q: VolumeListQuery, marker?: string): string {
  const params = new URLSearchParams();
  if (q.name !== undefined) params.set('name', q.name);
  if (q.status !== undefined) params.set('status', q.status);
  if (q.project !== undefined) params.set('project', q.project);
  if (q.limit !== DEFAULT_PAGE) params.set('limit', String(q.limit));
  if (marker !== undefined) params.set('marker', marker);
  const s = params.toString();
  return `/console/volumes${s ? `?${s}` : ''}`;
}
