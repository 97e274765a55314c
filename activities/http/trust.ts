/** Which certificate authorities Baton trusts for HTTPS: the system's, plus the Secret's `caFile`. */
import { rootCertificates } from 'node:tls';

/**
 * The CA list for a TLS connection, or undefined for Node's default store. A custom CA is ADDED to
 * the public roots, not put in their place: Node replaces its store when `ca` is given, and a
 * Secret's `caFile` must not make public hosts untrusted (git and the providers share this policy).
 */
export function trustedCertificates(ca?: string | Buffer): string[] | undefined {
  if (ca === undefined || ca.length === 0) return undefined;
  return [...rootCertificates, ca.toString()];
}
