/**
 * Keyset pagination (Cinder's limit/marker/sort): the marker is the id of the last item of the
 * previous page; the next page starts strictly after that row in the sort order. `id` is always
 * the last sort key, so the order is total and no row is skipped or repeated.
 */
import { Op, col, fn, where as sqlWhere, type Model, type ModelStatic, type Order, type OrderItem, type WhereOptions } from 'sequelize';
import { StorageError } from '../../core/errors.js';

export interface SortKey {
  /** Attribute name (camelCase) of a sortable column. */
  key: string;
  dir: 'asc' | 'desc';
}

export interface PageRequest {
  limit: number;
  marker?: string;
  sort: SortKey[];
}

/** Nullable text columns sort as ''. Keyset comparisons with NULL would drop rows. */
const COALESCED = new Set(['name']);

/** What to order by: the attribute (sequelize maps it to its column) or a COALESCE of the column. */
function expr(key: string): OrderItem {
  return COALESCED.has(key) ? fn('COALESCE', col(key), '') : key;
}

function compare(key: string, op: symbol, value: unknown): WhereOptions {
  if (COALESCED.has(key)) return sqlWhere(fn('COALESCE', col(key), ''), { [op]: (value ?? '') as string }) as WhereOptions;
  return { [key]: { [op]: value } } as WhereOptions;
}

/** (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ... with > or < per key direction. */
function after(sort: SortKey[], marker: Record<string, unknown>): WhereOptions {
  const branches: WhereOptions[] = sort.map((s, i) => {
    const equal = sort.slice(0, i).map((p) => compare(p.key, Op.eq, marker[p.key]));
    return { [Op.and]: [...equal, compare(s.key, s.dir === 'asc' ? Op.gt : Op.lt, marker[s.key])] };
  });
  return { [Op.or]: branches };
}

export function withIdTieBreak(sort: SortKey[]): SortKey[] {
  if (sort.some((s) => s.key === 'id')) return sort;
  return [...sort, { key: 'id', dir: sort[sort.length - 1]?.dir ?? 'desc' }];
}

export async function findPage(model: ModelStatic<Model>, base: WhereOptions, page: PageRequest): Promise<Record<string, unknown>[]> {
  const sort = withIdTieBreak(page.sort);
  let where: WhereOptions = base;
  if (page.marker !== undefined) {
    const marker = (await model.findOne({ where: { [Op.and]: [base, { id: page.marker }] }, raw: true })) as Record<string, unknown> | null;
    if (!marker) throw new StorageError('INVALID_INPUT', `marker ${page.marker} not found`, { details: { fields: [{ path: 'marker', message: 'not found' }] } });
    where = { [Op.and]: [base, after(sort, marker)] };
  }
  const order = sort.map((s) => [expr(s.key), s.dir.toUpperCase()]) as Order;
  return (await model.findAll({ where, order, limit: page.limit, raw: true })) as unknown as Record<string, unknown>[];
}
