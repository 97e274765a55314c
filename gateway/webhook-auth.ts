/**
 * Authentication of webhooks: keyed with the `hmac-key` of the Secret named by the Pipeline's
 * `spec.promotion.strategy.secretRef`, over the raw body (Flux's generic-hmac Provider). Every leaf
 * cluster's Provider holds that key, so it never approves (approval-auth.ts), except through Weave's
 * legacy signature when the operator allows it. Never logs the key or a received signature; every
 * failure is a 401 that tells the caller nothing more.
 */
import type { FastifyRequest } from 'fastify';
import { type Pipeline, pipelineKey } from '../model/pipeline.js';
import type { PipelineSource } from '../pipelines/source.js';
import { HttpError } from './errors.js';
import { SIGNATURE_HEADER, verifySignature } from './hmac.js';
import type { GatewayMetrics } from './plugins/metrics.js';
import { RETRY_AFTER_SECONDS } from './routes/pipeline-route.js';

/** The Pipeline's key, or why it has none. */
export type KeyLookup = { kind: 'key'; key: Buffer } | { kind: 'no-secret-ref' } | { kind: 'no-key' };

/**
 * Reads the Pipeline's `hmac-key`. A Secret that cannot be read is a 503 (retry later); a missing
 * Secret or key is logged for the operator, since the caller cannot fix it.
 */
export async function hmacKey(
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
