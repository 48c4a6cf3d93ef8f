/**
 * api.auth "keystone": who is calling, from Keystone.
 * - X-Auth-Token: validated by Keystone (cached, core of TokenCache); must be scoped to a project.
 *   Its roles map onto the policy's (admin, member, reader, service; other names are dropped).
 * - X-Service-Token (as Nova sends it with a user's token): validated the same way; it must carry
 *   the service role, which the caller then gets; user and project stay the user token's. A
 *   service token without the service role is refused (401), never silently ignored.
 * - Compute-host credentials (api.tokens / api.tokensFile, bound to a host): checked here first
 *   and never forwarded to Keystone (issue 11: per-host, per-direction credentials).
 * Keystone unreachable: IDENTITY_UNAVAILABLE (503), never an allow.
 */
import { StorageError } from '../../../lib/core/errors.js';
import { ROLES, type Caller, type Role } from '../policy.js';
import type { KeystoneClient, TokenInfo } from './client.js';
import { TokenCache } from './token-cache.js';

export interface KeystoneAuthOptions {
  client: Pick<KeystoneClient, 'validate'>;
  cacheSize: number;
  cacheTtlMs: number;
  /** Compute-host credentials: token → the caller it stands for. */
  hostCredentials: ReadonlyMap<string, Caller>;
}

function mappedRoles(names: readonly string[]): Set<Role> {
  return new Set(names.filter((n): n is Role => (ROLES as readonly string[]).includes(n)));
}

export class KeystoneAuthenticator {
  private readonly cache: TokenCache<TokenInfo>;
  /** Keystone validations made (the cache's misses): tests read it. */
  validations = 0;

  constructor(private readonly o: KeystoneAuthOptions) {
    this.cache = new TokenCache({ maxEntries: o.cacheSize, ttlMs: o.cacheTtlMs });
  }

  get cached(): number {
    return this.cache.size;
  }

  private async info(token: string, which: string): Promise<TokenInfo> {
    const hit = this.cache.get(token);
    if (hit) return hit;
    this.validations++;
    const info = await this.o.client.validate(token);
    if (!info) throw new StorageError('UNAUTHORIZED', `${which} is not valid (unknown, expired or revoked)`);
    this.cache.set(token, info, info.expiresAt);
    return info;
  }

  async caller(authToken: string | undefined, serviceToken: string | undefined): Promise<Caller> {
    if (!authToken) throw new StorageError('UNAUTHORIZED', 'missing X-Auth-Token');
    const host = this.o.hostCredentials.get(authToken);
    if (host) {
      if (serviceToken !== undefined) throw new StorageError('UNAUTHORIZED', 'a compute-host credential is not combined with X-Service-Token');
      return host;
    }
    // A host's credential is for this API only: never forwarded to Keystone, whatever the header.
    if (serviceToken !== undefined && this.o.hostCredentials.has(serviceToken)) {
      throw new StorageError('UNAUTHORIZED', 'X-Service-Token must be a Keystone token');
    }
    const user = await this.info(authToken, 'X-Auth-Token');
    if (user.projectId === undefined) throw new StorageError('UNAUTHORIZED', 'X-Auth-Token is not scoped to a project');
    const roles = mappedRoles(user.roles);
    if (serviceToken !== undefined) {
      const service = await this.info(serviceToken, 'X-Service-Token');
      if (!service.roles.includes('service')) throw new StorageError('UNAUTHORIZED', 'X-Service-Token does not carry the service role');
      roles.add('service');
    }
    return { userId: user.userId, projectId: user.projectId, roles };
  }
}
