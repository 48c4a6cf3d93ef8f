/**
 * The one rule for free text that a database row keeps (names, descriptions, metadata keys and
 * values), whoever brings it: a request body or an archive's manifest. Any Unicode text up to
 * `max` characters is stored and returned exactly, a NUL and other control characters included
 * (values are bound by the database driver, never part of the SQL text). Only a lone UTF-16
 * surrogate is refused: it has no UTF-8 form, so either database would store U+FFFD instead of
 * what was sent. `max` is the column's width (VARCHAR(255) for names), so MariaDB in strict mode
 * never meets a longer value.
 */
import { z } from 'zod';

export const recordText = (max: number) => z.string().max(max).refine((s) => !/[\ud800-\udfff]/u.test(s), 'must be valid Unicode (a lone surrogate has no UTF-8 form)');

/** Width of the name and description columns of volumes and snapshots, and of a metadata key or value. */
export const RECORD_TEXT_MAX = 255;
