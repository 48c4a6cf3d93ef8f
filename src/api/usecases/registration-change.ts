/**
 * Whether a compute host's registration changes anything. A coordinator renews its registration
 * every coordinator.heartbeatMs (30 s) with the same endpoint and credential: that renewal only
 * proves it is alive (os-services reads last_heartbeat_at) and is not a state change. Audited as
 * one, every host would add 2,880 audit lines a day that hide the real actions; so only a
 * registration that creates the entry or changes its endpoint or credential is audited.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { CoordinatorAddress } from '../../db/index.js';

export type RegistrationChange = 'created' | 'endpoint' | 'credential' | 'endpoint and credential' | 'unchanged';

/** A digest, so that the comparison of two secrets takes the same time wherever they differ. */
function fingerprint(credential: string): Buffer {
  return createHash('sha256').update(credential, 'utf8').digest();
}

/** `before`: the stored entry (null: none); `after`: the registration asked for, endpoint in normal form. */
export function registrationChange(before: CoordinatorAddress | null, after: CoordinatorAddress): RegistrationChange {
  if (before === null) return 'created';
  const endpoint = before.endpoint !== after.endpoint;
  const credential = !timingSafeEqual(fingerprint(before.credential), fingerprint(after.credential));
  if (endpoint && credential) return 'endpoint and credential';
  if (endpoint) return 'endpoint';
  return credential ? 'credential' : 'unchanged';
}
