/**
 * Authentication of the two Pipeline-addressed routes. Both are keyed with the `hmac-key` of the
 * Secret named by the Pipeline's `spec.promotion.strategy.secretRef`; a promotion signs the raw
 * body (Flux's generic-hmac Provider), an approval signs method, path, timestamp and body. Never
 * logs the key or a received signature; every failure is a 401 that tells the caller nothing more.
 */
import type { FastifyRequest } from 'fastify';
import { type Pipeline, pipelineKey } from '../model/pipeline.js';
import type { PipelineSource } from '../pipelines/source.js';
import { HttpError } from './errors.js';
import { approvalCanonicalString, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from './hmac.js';
import type { GatewayMetrics } from './plugins/metrics.js';
import { RETRY_AFTER_SECONDS } from './routes/pipeline-route.js';

/** How far `X-Baton-Timestamp` may be from the gateway's clock, either way. */
export const APPROVAL_WINDOW_SECONDS = 5 * 60;

/** The Pipeline's key, or why it has none. */
type KeyLookup = { kind: 'key'; key: Buffer } | { kind: 'no-secret-ref' } | { kind: 'no-key' };

/**
 * Reads the Pipeline's `hmac-key`. A Secret that cannot be read is a 503 (retry later); a missing
 * Secret or key is logged for the operator, since the caller cannot fix it.
 */
async function hmacKey(
  pipelines: PipelineSource,
  pipeline: Pipeline,
  request: FastifyRequest,
  what: 'webhook' | 'approval',
): Promise<KeyLookup> {
  const secretRef = pipeline.spec.promotion?.strategy.secretRef;
  if (secretRef === undefined) return { kind: 'no-secret-ref' };
  const secretName = `${pipeline.namespace}/${secretRef.name}`;
  let secret;
  try {
    secret = await pipelines.getSecret(pipeline.namespace, secretRef.name);
  } catch (error) {
    throw new HttpError(503, `the ${what} key could not be read; retry later`, {
      headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
      details: { pipeline: pipelineKey(pipeline), secret: secretName },
      cause: error,
    });
  }
  const key = secret?.['hmac-key'];
  if (key !== undefined && key.length > 0) return { kind: 'key', key };
  const problem =
    secret === undefined ? `Secret ${secretName} (spec.promotion.strategy.secretRef) not found` : `Secret ${secretName} has no 'hmac-key'`;
  request.log.error(
    {
      pipeline: pipelineKey(pipeline),
      secret: secretName,
      problem: secret === undefined ? 'Secret not found' : "Secret has no 'hmac-key'",
    },
    `cannot verify ${what}s for Pipeline ${pipelineKey(pipeline)}: ${problem}`,
  );
  return { kind: 'no-key' };
}

export interface PromotionAuthOptions {
  pipelines: PipelineSource;
  metrics: GatewayMetrics;
  /** Accept webhooks for Pipelines without a secretRef (BATON_ALLOW_UNSIGNED). */
  allowUnsigned: boolean;
}

/**
 * 401 unless the body carries a valid signature by the Pipeline's `hmac-key`. A Pipeline without a
 * secretRef is refused unless the operator allowed unsigned webhooks.
 */
export async function authenticatePromotion(
  options: PromotionAuthOptions,
  pipeline: Pipeline,
  request: FastifyRequest,
  body: Buffer,
): Promise<void> {
  const { metrics } = options;
  const lookup = await hmacKey(options.pipelines, pipeline, request, 'webhook');
  if (lookup.kind === 'no-secret-ref') {
    if (options.allowUnsigned) return;
    metrics.signatureFailures.inc({ reason: 'unsigned' });
    throw new HttpError(401, 'unsigned webhooks are refused: the Pipeline has no spec.promotion.strategy.secretRef', {
      details: { pipeline: pipelineKey(pipeline) },
    });
  }
  if (lookup.kind === 'no-key') {
    metrics.signatureFailures.inc({ reason: 'no-key' });
    throw new HttpError(401, 'signature verification failed');
  }
  const check = verifySignature(request.headers[SIGNATURE_HEADER], body, lookup.key);
  if (!check.ok) {
    metrics.signatureFailures.inc({ reason: check.failure });
    throw new HttpError(401, check.failure === 'missing' ? 'missing X-Signature header' : 'signature verification failed', {
      details: { pipeline: pipelineKey(pipeline), signatureFailure: check.failure },
    });
  }
}

export interface ApprovalAuthOptions {
  pipelines: PipelineSource;
  metrics: GatewayMetrics;
  /** Accept Weave's signature over an empty body, without a timestamp (BATON_LEGACY_APPROVAL_SIGNATURE). */
  legacyApprovalSignature: boolean;
}

/** How an approval was authenticated. */
export type ApprovalAuth = { kind: 'signed'; signature: string; expiresAt: number } | { kind: 'legacy' };

/**
 * 401 unless the approval is signed over `POST\n<path>\n<X-Baton-Timestamp>\n<raw body>` with a
 * timestamp within `APPROVAL_WINDOW_SECONDS` (or, when allowed, Weave's signature over an empty
 * body). Approvals are never accepted unsigned.
 */
export async function authenticateApproval(
  options: ApprovalAuthOptions,
  pipeline: Pipeline,
  request: FastifyRequest,
  body: Buffer,
): Promise<ApprovalAuth> {
  const { metrics } = options;
  const details = { pipeline: pipelineKey(pipeline) };
  const unauthorized = (message: string, logged: Record<string, unknown> = details): HttpError => {
    metrics.approvals.inc({ outcome: 'unauthorized' });
    return new HttpError(401, message, { details: logged });
  };

  let lookup: KeyLookup;
  try {
    lookup = await hmacKey(options.pipelines, pipeline, request, 'approval');
  } catch (error) {
    metrics.approvals.inc({ outcome: 'unavailable' });
    throw error;
  }
  if (lookup.kind === 'no-secret-ref')
    throw unauthorized('approvals must be signed, and the Pipeline has no spec.promotion.strategy.secretRef');
  if (lookup.kind === 'no-key') throw unauthorized('signature verification failed', { ...details, signatureFailure: 'no-key' });
  const { key } = lookup;

  const header = request.headers[SIGNATURE_HEADER];
  if (header === undefined || header === '') throw unauthorized('missing X-Signature header', { ...details, signatureFailure: 'missing' });
  const timestamp = request.headers[TIMESTAMP_HEADER];

  if (timestamp === undefined && options.legacyApprovalSignature && body.length === 0) {
    const check = verifySignature(header, body, key);
    if (!check.ok) throw unauthorized('signature verification failed', { ...details, signatureFailure: check.failure, legacy: true });
    return { kind: 'legacy' };
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
      { ...details, skewSeconds: skew },
    );
  }
  const path = request.url.split('?', 1)[0] ?? request.url;
  const check = verifySignature(header, approvalCanonicalString('POST', path, timestamp, body), key);
  if (!check.ok) throw unauthorized('signature verification failed', { ...details, signatureFailure: check.failure });
  // Verified, so a single well-formed value: the digest, normalised.
  const value = String(header);
  const signature = `${check.algorithm}=${value
    .slice(value.indexOf('=') + 1)
    .trim()
    .toLowerCase()}`;
  return { kind: 'signed', signature, expiresAt: (Number(timestamp) + APPROVAL_WINDOW_SECONDS + 1) * 1000 };
}
