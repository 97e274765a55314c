/**
 * Authentication of approvals. The webhook `hmac-key` is held by every leaf cluster's Flux Provider,
 * so it must not approve: whoever reads it on a dev cluster could approve prod under any name.
 * An approval is accepted with one of
 *
 * - `Authorization: Bearer <JWT>` of the configured OpenID issuer (oidc.ts): the approver is the
 *   token's user claim, vouched for by the issuer;
 * - `X-Signature` over `POST\n<path>\n<X-Baton-Timestamp>\n<raw body>` keyed with an approval key:
 *   `approval-key-<env>` (else `approval-key`) of the Secret named by the Pipeline's
 *   `promotion.baton.dev/approval-secret` annotation, which the leaf clusters never hold; the
 *   approver is the name the signer typed, recorded as asserted along with the key's name;
 * - Weave's signature (webhook key over an empty body), only with BATON_LEGACY_APPROVAL_SIGNATURE.
 *
 * Never logs a token, a key or a received signature.
 */
import type { FastifyRequest } from 'fastify';
import type { DecisionAuthentication } from '../model/messages.js';
import { approvalSecret, PipelineAnnotation } from '../model/pipeline-annotations.js';
import { effectivePromotion, environmentIndex, type Pipeline, pipelineKey } from '../model/pipeline.js';
import type { PipelineSource, SecretData } from '../pipelines/source.js';
import { HttpError } from './errors.js';
import { approvalCanonicalString, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from './hmac.js';
import { type ApprovalTokenVerifier, IssuerUnavailableError, TokenRefusedError } from './oidc.js';
import type { GatewayMetrics } from './plugins/metrics.js';
import { RETRY_AFTER_SECONDS } from './routes/pipeline-route.js';
import { hmacKey } from './webhook-auth.js';

/** How far `X-Baton-Timestamp` may be from the gateway's clock, either way. */
export const APPROVAL_WINDOW_SECONDS = 5 * 60;
/** The approver recorded for approvals signed the Weave way (no body, so no approver). */
export const LEGACY_APPROVER = 'weave-legacy-approval';
/** The approval Secret's key for one environment, preferred over the Pipeline-wide `approval-key`. */
export const approvalKeyName = (environment: string): string => `approval-key-${environment}`;
export const PIPELINE_APPROVAL_KEY = 'approval-key';

export interface ApprovalAuthOptions {
  pipelines: PipelineSource;
  metrics: GatewayMetrics;
  /** Accept Weave's signature over an empty body, without a timestamp (BATON_LEGACY_APPROVAL_SIGNATURE). */
  legacyApprovalSignature: boolean;
  /** Verifies bearer tokens; absent when BATON_OIDC_ISSUER is not set. */
  tokens?: ApprovalTokenVerifier;
}

/** How an approval was authenticated; `signature` is what the replay cache claims. */
export type ApprovalAuth =
  | { kind: 'oidc'; authentication: DecisionAuthentication }
  | { kind: 'approval-key'; authentication: DecisionAuthentication; signature: string; expiresAt: number }
  | { kind: 'legacy'; authentication: DecisionAuthentication };

const BEARER = /^Bearer(?:[ \t]+(\S*))?[ \t]*$/i;

function readKey(secret: SecretData, name: string): Buffer | undefined {
  const value = Object.hasOwn(secret, name) ? secret[name] : undefined;
  return value !== undefined && value.length > 0 ? value : undefined;
}

/**
 * 401 unless the approval carries a credential this gateway accepts for `environment` (see the
 * module comment); 503 when the issuer or a Secret cannot be read right now.
 */
export async function authenticateApproval(
  options: ApprovalAuthOptions,
  pipeline: Pipeline,
  environment: string,
  request: FastifyRequest,
  body: Buffer,
): Promise<ApprovalAuth> {
  const { metrics } = options;
  const details = { pipeline: pipelineKey(pipeline), environment };
  const unauthorized = (message: string, logged: Record<string, unknown> = {}, extra: { headers?: Record<string, string> } = {}) => {
    metrics.approvals.inc({ outcome: 'unauthorized' });
    return new HttpError(401, message, { details: { ...details, ...logged }, ...extra });
  };
  const unavailable = (message: string, cause: unknown) => {
    metrics.approvals.inc({ outcome: 'unavailable' });
    return new HttpError(503, message, {
      headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
      details: { ...details, problem: cause instanceof Error ? cause.message : String(cause) },
      cause,
    });
  };

  const authorization = request.headers.authorization;
  const signatureHeader = request.headers[SIGNATURE_HEADER];
  if (authorization !== undefined) {
    const bearer = BEARER.exec(authorization);
    if (bearer === null) throw unauthorized('unsupported Authorization scheme: send Authorization: Bearer <token>');
    if (signatureHeader !== undefined) throw unauthorized('send a bearer token or an X-Signature, not both');
    if (options.tokens === undefined) throw unauthorized('this gateway accepts no bearer tokens (BATON_OIDC_ISSUER is not set)');
    try {
      const identity = await options.tokens.verify(bearer[1] ?? '');
      return {
        kind: 'oidc',
        authentication: {
          method: 'oidc',
          subject: identity.subject,
          verified: true,
          issuer: identity.issuer,
          ...(identity.groups === undefined ? {} : { groups: identity.groups }),
        },
      };
    } catch (error) {
      if (error instanceof TokenRefusedError) {
        throw unauthorized(
          `invalid token: ${error.reason}`,
          { tokenFailure: error.reason },
          // RFC 6750: tell the client its token, not its request, is what to replace.
          { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } },
        );
      }
      if (error instanceof IssuerUnavailableError) throw unavailable('the identity provider could not be reached; retry later', error);
      throw error;
    }
  }

  if (signatureHeader === undefined || signatureHeader === '') {
    throw unauthorized('missing credentials: send Authorization: Bearer <token>, or an X-Signature by an approval key', {
      signatureFailure: 'missing',
    });
  }
  const timestamp = request.headers[TIMESTAMP_HEADER];

  if (timestamp === undefined && options.legacyApprovalSignature && body.length === 0) {
    // Weave's way: the webhook key, which every leaf cluster holds. Unsafe, hence behind its flag.
    let lookup;
    try {
      lookup = await hmacKey(options.pipelines, pipeline, request, 'approval');
    } catch (error) {
      metrics.approvals.inc({ outcome: 'unavailable' });
      throw error;
    }
    if (lookup.kind !== 'key') throw unauthorized('signature verification failed', { signatureFailure: lookup.kind, legacy: true });
    const check = verifySignature(signatureHeader, body, lookup.key);
    if (!check.ok) throw unauthorized('signature verification failed', { signatureFailure: check.failure, legacy: true });
    const secretName = pipeline.spec.promotion?.strategy.secretRef?.name ?? '';
    return {
      kind: 'legacy',
      authentication: {
        method: 'legacy-signature',
        subject: LEGACY_APPROVER,
        verified: false,
        key: `hmac-key:${pipeline.namespace}/${secretName}`,
      },
    };
  }
  if (timestamp === undefined || timestamp === '') {
    throw unauthorized('missing X-Baton-Timestamp header: sign approvals over method, path, timestamp and body');
  }
  if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp)) {
    throw unauthorized('X-Baton-Timestamp must be a unix time in seconds');
  }
  const skew = Math.floor(Date.now() / 1000) - Number(timestamp);
  if (Math.abs(skew) > APPROVAL_WINDOW_SECONDS) {
    throw unauthorized(
      `X-Baton-Timestamp is more than ${APPROVAL_WINDOW_SECONDS / 60} minutes away from the gateway's clock: sign the request again (and check the clock)`,
      { skewSeconds: skew },
    );
  }

  const secretName = approvalSecret(pipeline);
  if (secretName === undefined) {
    throw unauthorized(
      `no approval key is configured for this Pipeline: name its approval Secret with the ${PipelineAnnotation.approvalSecret} annotation, or use a bearer token`,
      { signatureFailure: 'no-approval-secret' },
    );
  }
  const secretKey = `${pipeline.namespace}/${secretName}`;
  let secret: SecretData | undefined;
  try {
    secret = await options.pipelines.getSecret(pipeline.namespace, secretName);
  } catch (error) {
    throw unavailable('the approval key could not be read; retry later', error);
  }
  const keyName =
    secret === undefined
      ? undefined
      : [approvalKeyName(environment), PIPELINE_APPROVAL_KEY].find((name) => readKey(secret, name) !== undefined);
  // A Secret without the key matters only where a gate waits for approvals: anybody can name another
  // environment, and must not fill the operator's error log with configuration problems that are not.
  const gated = environmentIndex(pipeline.spec, environment) > 0 && effectivePromotion(pipeline.spec, environment)?.manual === true;
  if (secret !== undefined && keyName === undefined && !gated) {
    throw unauthorized('signature verification failed', { signatureFailure: 'no-key' });
  }
  if (secret === undefined || keyName === undefined) {
    request.log.error(
      { ...details, secret: secretKey, problem: secret === undefined ? 'Secret not found' : 'Secret has no approval key' },
      `cannot verify approvals for Pipeline ${pipelineKey(pipeline)} in ${environment}: ` +
        (secret === undefined
          ? `Secret ${secretKey} (${PipelineAnnotation.approvalSecret}) not found`
          : `Secret ${secretKey} has neither '${approvalKeyName(environment)}' nor '${PIPELINE_APPROVAL_KEY}'`),
    );
    throw unauthorized('signature verification failed', { signatureFailure: 'no-key' });
  }
  const key = readKey(secret, keyName)!;
  const path = request.url.split('?', 1)[0] ?? request.url;
  const check = verifySignature(signatureHeader, approvalCanonicalString('POST', path, timestamp, body), key);
  if (!check.ok) throw unauthorized('signature verification failed', { signatureFailure: check.failure, key: `${secretKey}/${keyName}` });

  // An approval key copied from the webhook Secret would bring back the very hole keys close.
  const webhookRef = pipeline.spec.promotion?.strategy.secretRef?.name;
  if (webhookRef !== undefined) {
    let webhookSecret: SecretData | undefined;
    try {
      webhookSecret = await options.pipelines.getSecret(pipeline.namespace, webhookRef);
    } catch (error) {
      throw unavailable('the approval key could not be checked; retry later', error);
    }
    if (webhookSecret !== undefined && readKey(webhookSecret, 'hmac-key')?.equals(key) === true) {
      request.log.error(
        { ...details, secret: secretKey, key: keyName, problem: 'approval key equals the webhook hmac-key' },
        `refusing approvals for Pipeline ${pipelineKey(pipeline)}: ${secretKey}/${keyName} is the webhook hmac-key, which every leaf cluster holds; generate a separate key`,
      );
      throw unauthorized('signature verification failed', { signatureFailure: 'webhook-key' });
    }
  }

  // Verified, so a single well-formed value: the digest, normalised.
  const value = String(signatureHeader);
  const signature = `${check.algorithm}=${value
    .slice(value.indexOf('=') + 1)
    .trim()
    .toLowerCase()}`;
  return {
    kind: 'approval-key',
    // The subject (the typed approver) is filled in once the body is read.
    authentication: { method: 'approval-key', subject: '', verified: false, key: `approval-key:${secretKey}/${keyName}` },
    signature,
    expiresAt: (Number(timestamp) + APPROVAL_WINDOW_SECONDS + 1) * 1000,
  };
}
