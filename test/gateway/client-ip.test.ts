import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rateLimitKey, TrustedProxyError, trustProxyOption } from '../../gateway/client-ip.js';

describe('rate-limit keys', () => {
  it('keys IPv4 clients by their address', () => {
    assert.equal(rateLimitKey('192.0.2.7'), '192.0.2.7');
  });

  it('keys an IPv4-mapped IPv6 address as the IPv4 client it is', () => {
    assert.equal(rateLimitKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(rateLimitKey('::FFFF:c000:0207'), '192.0.2.7');
  });

  it('keys IPv6 clients by their /64', () => {
    assert.equal(rateLimitKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(rateLimitKey('2001:0db8:0001:0002:ffff:eeee:dddd:cccc'), '2001:db8:1:2::/64');
    assert.notEqual(rateLimitKey('2001:db8:1:3::1'), rateLimitKey('2001:db8:1:2::1'));
    assert.equal(rateLimitKey('::1'), '::/64');
  });

  it('uses anything unparseable as it is', () => {
    assert.equal(rateLimitKey('not-an-ip'), 'not-an-ip');
  });
});

describe('trusted proxies', () => {
  it('trusts no proxy by default: the socket address is the client', () => {
    assert.equal(trustProxyOption([]), false);
  });

  it('passes addresses, CIDRs and proxy-addr range names to fastify', () => {
    assert.deepEqual(trustProxyOption(['10.0.0.0/8', '192.0.2.1', 'fd00::/8', 'loopback']), [
      '10.0.0.0/8',
      '192.0.2.1',
      'fd00::/8',
      'loopback',
    ]);
  });

  it('refuses entries that are not addresses', () => {
    assert.throws(() => trustProxyOption(['10.0.0.0/8', 'proxy.example.com']), TrustedProxyError);
  });
});
