import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Request, Response } from 'express';
import { assertMetricsReader, MIN_SCRAPE_CREDENTIAL, scrapeCredential } from '../../../../src/api/metrics-access.js';
import type { Caller, Role } from '../../../../src/api/policy.js';
import { StorageError } from '../../../../lib/core/errors.js';

const CREDENTIAL = 'scrape-0123456789abcdef';

function request(headers: Record<string, string>, roles?: Role[]): { req: Request; res: Response; sent: Record<string, string> } {
  const sent: Record<string, string> = {};
  const caller: Caller | undefined = roles ? { userId: 'u', projectId: 'p', roles: new Set(roles) } : undefined;
  const req = { headers, ...(caller ? { caller } : {}) } as unknown as Request;
  const res = { setHeader: (k: string, v: string) => { sent[k.toLowerCase()] = v; } } as unknown as Response;
  return { req, res, sent };
}

function refusal(headers: Record<string, string>, credential: string, roles?: Role[]): string {
  const { req, res } = request(headers, roles);
  try {
    assertMetricsReader(req, res, credential);
    return 'admitted';
  } catch (err) {
    expect(err).to.be.instanceOf(StorageError);
    return (err as StorageError).code;
  }
}

describe('metrics access: the scrape credential or an admin, when one is configured', () => {
  it('admits the configured credential as a bearer token, and an admin caller', () => {
    expect(refusal({ authorization: `Bearer ${CREDENTIAL}` }, CREDENTIAL)).to.equal('admitted');
    expect(refusal({ authorization: `bearer  ${CREDENTIAL}` }, CREDENTIAL), 'the scheme is case-insensitive').to.equal('admitted');
    expect(refusal({}, CREDENTIAL, ['admin'])).to.equal('admitted');
  });

  it('without a credential configured: open to anyone, as before the credential existed', () => {
    expect(refusal({}, '')).to.equal('admitted');
    expect(refusal({}, '', ['member'])).to.equal('admitted');
    expect(refusal({ authorization: 'Bearer anything' }, '')).to.equal('admitted');
  });

  it('refuses anyone else: 401 without or with a wrong credential, 403 for a caller without the role', () => {
    expect(refusal({}, CREDENTIAL)).to.equal('UNAUTHORIZED');
    expect(refusal({ authorization: `Bearer ${CREDENTIAL}x` }, CREDENTIAL)).to.equal('UNAUTHORIZED');
    expect(refusal({ authorization: `Bearer ${CREDENTIAL.slice(0, -1)}` }, CREDENTIAL)).to.equal('UNAUTHORIZED');
    expect(refusal({ authorization: `Basic ${CREDENTIAL}` }, CREDENTIAL)).to.equal('UNAUTHORIZED');
    for (const role of ['member', 'reader', 'service'] as Role[]) expect(refusal({}, CREDENTIAL, [role]), role).to.equal('FORBIDDEN');
    expect(refusal({ authorization: 'Bearer wrong-credential-123' }, CREDENTIAL, ['member']), 'a wrong credential is named as such').to.equal('UNAUTHORIZED');
    const { req, res, sent } = request({}, undefined);
    expect(() => assertMetricsReader(req, res, CREDENTIAL)).to.throw(StorageError);
    expect(sent['www-authenticate']).to.match(/^Bearer /);
  });

  it('reads the credential from its file (final newline dropped) or the environment; refuses a short or unreadable one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'qcs-metrics-cred-'));
    try {
      const file = path.join(dir, 'token');
      await writeFile(file, `${CREDENTIAL}\n`);
      expect(scrapeCredential({ metricsTokenFile: file }, {})).to.equal(CREDENTIAL);
      expect(scrapeCredential({ metricsTokenFile: '' }, { QCOWSHARE_METRICS_TOKEN: CREDENTIAL })).to.equal(CREDENTIAL);
      expect(scrapeCredential({ metricsTokenFile: '' }, {})).to.equal('');
      await writeFile(file, 'x'.repeat(MIN_SCRAPE_CREDENTIAL - 1));
      expect(() => scrapeCredential({ metricsTokenFile: file }, {})).to.throw(/at least 16 characters/);
      expect(() => scrapeCredential({ metricsTokenFile: path.join(dir, 'missing') }, {})).to.throw(/cannot read the file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
