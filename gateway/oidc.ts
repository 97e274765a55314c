/**
 * Approval tokens: `Authorization: Bearer <JWT>` issued by the configured OpenID provider. The
 * issuer's discovery document names its JWKS; jose's remote JWK set fetches it, caches it, and
 * fetches it again when a token names a key it does not hold (the IdP rotated), at most once per
 * cooldown so unknown `kid`s cannot make the gateway hammer the IdP.
 *
 * Only asymmetric algorithms are accepted: with an HMAC algorithm, anyone who knows the public key
 * (everyone) could sign a token the keys "verify". Messages never quote the token.
 */
import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import type { OidcConfig } from '../config/config.js';

/** RS*, PS*, ES* and EdDSA (`Ed25519` is its fully specified name). */
export const APPROVAL_TOKEN_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** Clocks of the IdP and the gateway may differ this much (seconds). */
export const CLOCK_TOLERANCE_SECONDS = 30;
/** The workflow refuses longer approvers; so does the token check, with a clearer reason. */
const MAX_SUBJECT_LENGTH = 256;
/** Groups kept in the decision: enough to explain it, bounded so a token cannot bloat the history. */
const MAX_GROUPS = 64;
const MAX_GROUP_LENGTH = 256;
/** A JWT longer than this is not an approval token (Node refuses headers over 16 KiB anyway). */
const MAX_TOKEN_LENGTH = 8 * 1024;

/** Who a valid token names. */
export interface OidcIdentity {
  issuer: string;
  /** The user claim (`BATON_OIDC_USER_CLAIM`). */
  subject: string;
  /** The groups claim, when the token has one. */
  groups?: string[];
}

/** The token is not acceptable; `reason` is safe to send (it never quotes the token). */
export class TokenRefusedError extends Error {
  override name = 'TokenRefusedError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** The issuer's discovery document or keys could not be fetched: retry later. */
export class IssuerUnavailableError extends Error {
  override name = 'IssuerUnavailableError';
}

export interface ApprovalTokenVerifier {
  readonly issuer: string;
  /** Resolves with the identity; throws `TokenRefusedError` or `IssuerUnavailableError`. */
  verify(token: string): Promise<OidcIdentity>;
}

export interface OidcVerifierOptions {
  /** Bound on fetching the discovery document and the JWKS (default 5 s). */
  fetchTimeoutMs?: number;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/** jose's own default: an IdP rotating keys is seen within this, and cannot be hammered faster. */
const DEFAULT_JWKS_COOLDOWN_MS = 30_000;

function allowedUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname));
  } catch {
    return false;
  }
}

async function discoverJwksUri(issuer: string, timeoutMs: number): Promise<string> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let document: unknown;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    document = await response.json();
  } catch (error) {
    throw new IssuerUnavailableError(`the OpenID discovery document ${url} could not be read`, { cause: error });
  }
  const { issuer: named, jwks_uri: jwksUri } = (document ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
  // OpenID Connect Discovery: the document must name exactly the issuer it was fetched for.
  if (named !== issuer) {
    throw new IssuerUnavailableError(`${url} names the issuer ${JSON.stringify(named)}, not ${issuer} (check BATON_OIDC_ISSUER)`);
  }
  if (typeof jwksUri !== 'string' || !allowedUrl(jwksUri)) {
    throw new IssuerUnavailableError(`${url} has no usable https jwks_uri`);
  }
  return jwksUri;
}

/** The reason of a refused token, from jose's error; undefined for errors that mean "could not check". */
function refusalReason(error: unknown, config: OidcConfig): string | undefined {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'nbf':
        return 'the token is not yet valid';
      case 'iss':
        return `the token was not issued by ${config.issuer}`;
      case 'aud':
        return `the token is not for the audience ${config.audience}`;
      case 'exp':
        return 'the token has no valid expiry';
      default:
        return `the token's ${error.claim} claim is invalid`;
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token is not signed with an accepted algorithm';
  if (error instanceof errors.JWKSNoMatchingKey) return "no key of the issuer matches the token's kid";
  if (error instanceof errors.JWKSMultipleMatchingKeys) return "the token's signature does not verify";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'the token is malformed';
  if (error instanceof errors.JOSENotSupported) return 'the token uses a feature this gateway does not support';
  return undefined;
}

function groupsOf(value: unknown): string[] | undefined {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined;
  if (list === undefined) return undefined;
  return list.filter((g): g is string => typeof g === 'string' && g.length > 0 && g.length <= MAX_GROUP_LENGTH).slice(0, MAX_GROUPS);
}

export function createOidcVerifier(config: OidcConfig, options: OidcVerifierOptions = {}): ApprovalTokenVerifier {
  const timeoutMs = options.fetchTimeoutMs ?? 5_000;
  // Discovered once; a failed discovery is forgotten so the next approval tries again.
  let keySet: Promise<KeySet> | undefined;
  const keys = (): Promise<KeySet> => {
    keySet ??= discoverJwksUri(config.issuer, timeoutMs).then((uri) =>
      createRemoteJWKSet(new URL(uri), {
        timeoutDuration: timeoutMs,
        cooldownDuration: config.jwksCooldownMs ?? DEFAULT_JWKS_COOLDOWN_MS,
      }),
    );
    keySet.catch(() => {
      keySet = undefined;
    });
    return keySet;
  };

  return {
    issuer: config.issuer,
    async verify(token) {
      if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || token.split('.').length !== 3) {
        throw new TokenRefusedError('the token is malformed: expected a signed JWT (header.payload.signature)');
      }
      let alg: unknown;
      try {
        ({ alg } = decodeProtectedHeader(token));
      } catch {
        throw new TokenRefusedError("the token's header is malformed");
      }
      // Checked before any key is fetched: `none` and HMAC tokens never cost a JWKS request.
      if (typeof alg !== 'string' || !(APPROVAL_TOKEN_ALGORITHMS as readonly string[]).includes(alg)) {
        throw new TokenRefusedError('the token is not signed with an accepted algorithm (RS*, PS*, ES*, EdDSA)');
      }
      const jwks = await keys();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, jwks, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: [...APPROVAL_TOKEN_ALGORITHMS],
          requiredClaims: ['exp'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
        }));
      } catch (error) {
        const reason = refusalReason(error, config);
        if (reason !== undefined) throw new TokenRefusedError(reason);
        throw new IssuerUnavailableError(`the keys of ${config.issuer} could not be read`, { cause: error });
      }
      const subject = payload[config.userClaim];
      if (typeof subject !== 'string' || subject.trim() === '' || subject.length > MAX_SUBJECT_LENGTH) {
        throw new TokenRefusedError(`the token has no usable '${config.userClaim}' claim to name the approver`);
      }
      // An address the user typed into their profile is not an identity.
      if (config.userClaim === 'email' && payload.email_verified === false) {
        throw new TokenRefusedError("the token's email is not verified");
      }
      const groups = groupsOf(payload[config.groupsClaim]);
      return { issuer: config.issuer, subject, ...(groups === undefined ? {} : { groups }) };
    },
  };
}
