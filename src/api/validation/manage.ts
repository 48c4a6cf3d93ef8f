/**
 * Manage bodies and listing queries in Cinder's shapes (os-volume-manage, manageable_volumes).
 *
 * `host` names the share: its address (what a volume's `os-vol-host-attr:host` shows), or
 * Cinder's pool form `<service host>@<backend>#<share address>`, of which only the part after
 * the last `#` is used (the service has one backend; its pools are the shares).
 */
import { z } from 'zod';
import { BASE_FILE_PATTERN } from '../../../lib/core/volume-names.js';
import { description, listQueryBase, looseBool, metadata, name } from './common.js';

/**
 * The name a file to manage has (the names module's one rule, lib/core/volume-names.ts), in lower
 * case only: the id becomes the volume's id, and ids are compared as stored.
 */
export const sourceName = z.string().max(255).refine((s) => BASE_FILE_PATTERN.test(s) && s === s.toLowerCase(), 'must be volume-<lowercase uuid>');

const host = z.string().min(1).max(255).refine((h) => [...h].every((c) => c.charCodeAt(0) >= 0x20 && c !== '\x7f'), 'must not contain control characters');

/** The share address a `host` value names. */
export function shareOfHost(h: string): string {
  const i = h.lastIndexOf('#');
  return i >= 0 ? h.slice(i + 1) : h;
}

export const manageBody = z.strictObject({
  volume: z.strictObject({
    host,
    /** Cinder 3.16+ may name a cluster instead of a host; this service has none. */
    cluster: z.null().optional(),
    ref: z.strictObject({ 'source-name': sourceName }),
    name: name.optional(),
    description: description.optional(),
    /** No volume types here: only the default (null) is accepted. */
    volume_type: z.null().optional(),
    bootable: looseBool.optional(),
    /** One zone: accepted and not recorded. */
    availability_zone: z.string().max(255).nullable().optional(),
    /** The cinder client sends null when no --metadata is given. */
    metadata: metadata.nullable().optional(),
  }),
});

export const manageableListQuery = z.strictObject({
  host: host.optional(),
  limit: listQueryBase.limit,
  offset: z.string().regex(/^\d{1,6}$/, 'must be a non-negative integer').transform(Number).optional(),
});
