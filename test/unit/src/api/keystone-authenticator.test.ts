/**
 * The mapping from Keystone's answers to the policy's caller, with a recording stand-in for the
 * Identity API (the real Keystone runs in test/integration/src/api/keystone-auth.test.ts): which
 * tokens are sent to Keystone at all, and what each answer makes of the caller.
 */
import { expect } from 'chai';
import { StorageError } from '../../../../lib/core/errors.js';
import { KeystoneAuthenticator } from '../../../../src/api/keystone/authenticator.js';
import type { TokenInfo } from '../../../../src/api/keystone/client.js';
import type { Caller } from '../../../../src/api/policy.js';

const HOUR = 3_600_000;

function setup(known: Record<string, Omit<TokenInfo, 'expiresAt'>>, hosts: Record<string, Caller> = {}) {
  const asked: string[] = [];
  const client = {
    validate: async (t: string): Promise<TokenInfo | null> => {
      asked.push(t);
      const k = known[t];
      return k ? { ...k, expiresAt: Date.now() + HOUR } : null;
    },
  };
  const auth = new KeystoneAuthenticator({ client, cacheSize: 100, cacheTtlMs: 60_000, hostCredentials: new Map(Object.entries(hosts)) });
  return { auth, asked };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof StorageError ? err.code : String(err);
  }
}

describe('Keystone authenticator (roles, scope, service tokens, host credentials)', () => {
  const user = { userId: 'u1', projectId: 'pA', roles: ['member', 'reader', 'custom-role'] };
  const nova = { userId: 'nova', projectId: 'svc', roles: ['service'] };
  const host: Caller = { userId: 'coord-c1', projectId: 'service', roles: new Set(['service']), host: 'c1' };

  it('maps known role names, drops the rest, keeps user and project', async () => {
    const { auth } = setup({ t: user });
    const c = await auth.caller('t', undefined);
    expect([c.userId, c.projectId, [...c.roles].sort()]).to.deep.equal(['u1', 'pA', ['member', 'reader']]);
  });

  it('refuses a token without a project scope, an unknown token, and no token', async () => {
    const { auth } = setup({ unscoped: { userId: 'u2', projectId: undefined, roles: ['admin'] } });
    expect(await codeOf(auth.caller('unscoped', undefined))).to.equal('UNAUTHORIZED');
    expect(await codeOf(auth.caller('nope', undefined))).to.equal('UNAUTHORIZED');
    expect(await codeOf(auth.caller(undefined, undefined))).to.equal('UNAUTHORIZED');
  });

  it('X-Service-Token adds the service role only when it carries it', async () => {
    const { auth } = setup({ t: user, nova, other: { userId: 'u3', projectId: 'pB', roles: ['member', 'admin'] } });
    const c = await auth.caller('t', 'nova');
    expect([c.userId, c.projectId, c.roles.has('service'), c.roles.has('admin')]).to.deep.equal(['u1', 'pA', true, false]);
    expect(await codeOf(auth.caller('t', 'other'))).to.equal('UNAUTHORIZED');
    expect(await codeOf(auth.caller('t', 'garbage'))).to.equal('UNAUTHORIZED');
  });

  it('compute-host credentials are answered locally and never sent to Keystone, in either header', async () => {
    const { auth, asked } = setup({ t: user }, { 'host-secret': host });
    expect((await auth.caller('host-secret', undefined)).host).to.equal('c1');
    expect(await codeOf(auth.caller('host-secret', 'nova'))).to.equal('UNAUTHORIZED');
    expect(await codeOf(auth.caller('t', 'host-secret'))).to.equal('UNAUTHORIZED');
    expect(asked).to.not.include('host-secret');
  });

  it('asks Keystone once per token while cached', async () => {
    const { auth, asked } = setup({ t: user });
    for (let i = 0; i < 5; i++) await auth.caller('t', undefined);
    expect(asked).to.deep.equal(['t']);
    expect(auth.validations).to.equal(1);
  });
});
