/**
 * Who a request comes from, for rate limiting. Fastify resolves `request.ip` from the
 * socket, and from `X-Forwarded-For` only when the socket belongs to a configured trusted proxy
 * (`trustProxy` below); Weave read a misspelt header from anyone, so any client could pick its own
 * bucket. This module turns that address into a rate-limit key.
 */
import ipaddr from 'ipaddr.js';

/** proxy-addr's names for well-known ranges, accepted in BATON_TRUSTED_PROXIES as well. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

export class TrustedProxyError extends Error {
  override name = 'TrustedProxyError';
}

/**
 * Fastify's `trustProxy` option for the configured proxies: `false` when there are none (the socket
 * address is the client), else the list of addresses/CIDRs whose `X-Forwarded-For` is believed.
 * Never `true`: trusting every hop would let any client choose its address.
 */
export function trustProxyOption(trustedProxies: readonly string[]): false | string[] {
  for (const entry of trustedProxies) {
    const valid = PROXY_RANGE_NAMES.has(entry) || ipaddr.isValid(entry) || ipaddr.isValidCIDR(entry);
    if (!valid) {
      throw new TrustedProxyError(
        `BATON_TRUSTED_PROXIES: '${entry}' is not an IP address, a CIDR, or one of loopback, linklocal, uniquelocal`,
      );
    }
  }
  return trustedProxies.length === 0 ? false : [...trustedProxies];
}

/**
 * The rate-limit key of a client address:
 * - an IPv4-mapped IPv6 address (`::ffff:192.0.2.7`, what a dual-stack socket reports for IPv4
 *   clients) is the IPv4 address, so one client has one bucket whichever socket family it used;
 * - an IPv6 address is keyed by its /64 prefix. A single subscriber or host routinely holds a whole
 *   /64 (SLAAC, privacy extensions, or simply picking any of its 2^64 addresses), so keying by the
 *   full address would give every client an unlimited supply of fresh buckets; the /64 is the
 *   smallest unit an address holder cannot multiply at will. (Weave went the other way and cut
 *   every IPv6 address at its first ':', which put all IPv6 clients into one shared bucket.)
 * Anything that does not parse (a Unix socket, an injected test request) is used as it is.
 */
export function rateLimitKey(ip: string): string {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.process(ip);
  } catch {
    return ip;
  }
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts;
  const prefix = new ipaddr.IPv6([...parts.slice(0, 4), 0, 0, 0, 0]);
  return `${prefix.toString()}/64`;
}
