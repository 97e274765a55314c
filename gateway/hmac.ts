/**
 * Webhook signatures: Flux's `generic-hmac` Provider sends
 * `X-Signature: <algorithm>=<hex HMAC of the raw body>`. Verification always runs over the bytes
 * received, never over re-serialised JSON, and compares in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-signature';

/** The algorithms Weave accepted, with their digest sizes in bytes. */
export const SIGNATURE_ALGORITHMS = { sha224: 28, sha256: 32, sha384: 48, sha512: 64 } as const;
export type SignatureAlgorithm = keyof typeof SIGNATURE_ALGORITHMS;

export const SignatureFailure = {
  missing: 'missing',
  malformed: 'malformed',
  unsupportedAlgorithm: 'unsupported-algorithm',
  mismatch: 'mismatch',
} as const;
export type SignatureFailure = (typeof SignatureFailure)[keyof typeof SignatureFailure];

export type SignatureCheck = { ok: true; algorithm: SignatureAlgorithm } | { ok: false; failure: SignatureFailure };

function isAlgorithm(name: string): name is SignatureAlgorithm {
  return Object.hasOwn(SIGNATURE_ALGORITHMS, name);
}

/** The `X-Signature` value for `body`: what Flux sends, and what tests and examples compute. */
export function signBody(body: Buffer | string, key: Buffer | string, algorithm: SignatureAlgorithm = 'sha256'): string {
  return `${algorithm}=${createHmac(algorithm, key).update(body).digest('hex')}`;
}

/**
 * Checks an `X-Signature` header value against `body` and `key`. The failure says why, for logs and
 * metrics; callers answer every failure the same way (401) so it tells an attacker nothing.
 */
export function verifySignature(header: string | string[] | undefined, body: Buffer, key: Buffer): SignatureCheck {
  if (header === undefined || header === '') return { ok: false, failure: SignatureFailure.missing };
  if (Array.isArray(header)) return { ok: false, failure: SignatureFailure.malformed };
  const separator = header.indexOf('=');
  if (separator < 0) return { ok: false, failure: SignatureFailure.malformed };
  const algorithm = header.slice(0, separator).trim().toLowerCase();
  const hex = header.slice(separator + 1).trim();
  if (!isAlgorithm(algorithm)) return { ok: false, failure: SignatureFailure.unsupportedAlgorithm };
  // Buffer.from(hex) silently stops at the first non-hex character; insist on the exact shape so a
  // truncated or padded value is a mismatch, not a shorter comparison.
  if (hex.length !== SIGNATURE_ALGORITHMS[algorithm] * 2 || !/^[0-9a-fA-F]+$/.test(hex)) {
    return { ok: false, failure: SignatureFailure.mismatch };
  }
  const expected = createHmac(algorithm, key).update(body).digest();
  const received = Buffer.from(hex, 'hex');
  return timingSafeEqual(expected, received) ? { ok: true, algorithm } : { ok: false, failure: SignatureFailure.mismatch };
}

/** The header carrying the time (unix seconds) an approval request was signed at. */
export const TIMESTAMP_HEADER = 'x-baton-timestamp';

/**
 * What an approval request's `X-Signature` covers: `POST\n<path>\n<X-Baton-Timestamp>\n<raw body>`.
 * The path is the request path exactly as sent (percent-encoding included, no query string), so the
 * signature binds the approval to its pipeline, environment and revision; the body names the approver.
 */
export function approvalCanonicalString(method: string, path: string, timestamp: string, body: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(`${method.toUpperCase()}\n${path}\n${timestamp}\n`, 'utf8'), Buffer.from(body)]);
}

/** The headers of a signed approval request: what `scripts/approve.ts`, tests and the README compute. */
export function signApproval(
  path: string,
  body: Buffer | string,
  key: Buffer | string,
  options: { timestamp?: number; algorithm?: SignatureAlgorithm } = {},
): { 'x-signature': string; 'x-baton-timestamp': string } {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  return {
    'x-signature': signBody(approvalCanonicalString('POST', path, timestamp, body), key, options.algorithm),
    'x-baton-timestamp': timestamp,
  };
}
