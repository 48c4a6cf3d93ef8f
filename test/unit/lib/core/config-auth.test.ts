import { expect } from 'chai';
import { parseConfig } from '../../../../lib/core/config.js';

describe('configuration of authentication, TLS and secrets', () => {
  it('api.auth "keystone" needs the Identity API URL', () => {
    expect(() => parseConfig({ api: { auth: 'keystone' } })).to.throw(/api\.keystone\.url: api\.auth "keystone" needs the Identity API URL/);
    const c = parseConfig({ api: { auth: 'keystone', keystone: { url: 'https://keystone.example:5000/v3' } } });
    expect(c.api.keystone.cacheSize).to.be.greaterThan(0);
    expect(c.api.keystone.cacheTtlMs).to.be.at.most(3_600_000);
  });

  it('bounds the token cache (size and TTL) and refuses unknown keys', () => {
    expect(() => parseConfig({ api: { auth: 'keystone', keystone: { url: 'http://k/v3', cacheSize: 0 } } })).to.throw(/cacheSize/);
    expect(() => parseConfig({ api: { auth: 'keystone', keystone: { url: 'http://k/v3', cacheTtlMs: 7_200_000 } } })).to.throw(/cacheTtlMs/);
    expect(() => parseConfig({ api: { keystone: { password: 'inline' } } })).to.throw(/password/);
  });

  it('TLS needs both files; plain HTTP by default', () => {
    expect(parseConfig({}).api.tls).to.equal(null);
    expect(parseConfig({}).coordinator.tls).to.equal(null);
    expect(() => parseConfig({ api: { tls: { certFile: 'c.pem' } } })).to.throw(/keyFile/);
    expect(parseConfig({ coordinator: { tls: { certFile: 'c.pem', keyFile: 'k.pem' } } }).coordinator.tls).to.deep.equal({ certFile: 'c.pem', keyFile: 'k.pem', clientCaFile: '' });
  });
});
