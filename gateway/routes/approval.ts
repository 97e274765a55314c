/**
 * The approval endpoint, `POST /approval/{pipelineNamespace}/{pipelineName}/{targetEnv}/{revision}`
 * (DESIGN.md §3.7, §4 and issue 4 §2): Weave's endpoint, delivered as the release workflow's
 * `approve` Update, with an authentication that binds the approval to what it approves.
 *
 *   onRequest   503 while shutting down · 429 rate limit, the same per-client bucket as /promotion (app.ts)
 *   routing     405 + `Allow: POST` for other methods under /approval/ · 404 wrong segment count
 *   preParsing  404 unknown Pipeline (503 while the Pipeline source has not synced yet)
 *   parsing     415 a body that is not `application/json` · 413 over 64 KiB
 *   handler     401 signature (below) · 400 body not `{approver, comment?}` · 422 `failed approving
 *               promotion` with the workflow's `reason` (no such release, nothing matching waits,
 *               a second decision, an approver the Pipeline does not allow) · 200 the decision ·
 *               503 + `Retry-After` when Temporal cannot take it
 *
 * Signature: `X-Signature: sha256=<hex HMAC>` (sha224/384/512 too) keyed with the Pipeline Secret's
 * `hmac-key`, over `POST\n<path>\n<X-Baton-Timestamp>\n<raw body>` (`approvalCanonicalString`):
 * the path names pipeline, environment and revision, the body the approver, the timestamp (unix
 * seconds) must be within 5 minutes of the gateway's clock. A signature is accepted once per
 * replica (`ReplayCache`); across replicas the workflow's Update validator, which refuses a second
 * decision, is what makes a replay harmless. Weave's signature (an HMAC over an empty body, no
 * timestamp) is accepted only with `BATON_LEGACY_APPROVAL_SIGNATURE=true`; it cannot name an
 * approver or be told from a replay, so the approver is recorded as `weave-legacy-approval`.
 * Approvals are never accepted unsigned, whatever `BATON_ALLOW_UNSIGNED` says.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Ajv } from 'ajv';
import type { GatewayConfig, TemporalConfig } from '../../config/config.js';
import { promotedVersion } from '../../model/flux-event.js';
import { environmentIndex, type Pipeline, pipelineKey } from '../../model/pipeline.js';
import type { PipelineSource } from '../../pipelines/source.js';
import { errorBodySchema, escapeHtml, HttpError, INTERNAL_ERROR_MESSAGE } from '../errors.js';
import { approvalCanonicalString, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from '../hmac.js';
import type { GatewayMetrics } from '../plugins/metrics.js';
import { type ApprovalReceipt, ApprovalRefusedError, type ReleaseApprover } from '../release-approver.js';
import { TemporalUnavailableError } from '../release-starter.js';
import { ReplayCache } from '../replay-cache.js';
import { rejectNonPostMethods, resolvePipelineFromPath, RETRY_AFTER_SECONDS } from './pipeline-route.js';

export const APPROVAL_ROUTE = '/approval/:namespace/:name/:env/:revision';
/** How far `X-Baton-Timestamp` may be from the gateway's clock, either way. */
export const APPROVAL_WINDOW_SECONDS = 5 * 60;
/** The approver recorded for approvals signed the Weave way (no body, so no approver). */
export const LEGACY_APPROVER = 'weave-legacy-approval';
/** Weave's answer when an approval cannot be applied; the `reason` field says why. */
export const APPROVAL_FAILED_MESSAGE = 'failed approving promotion';
/** `{approver, comment}` is a few hundred bytes. */
export const MAX_APPROVAL_BYTES = 64 * 1024;

export type ApprovalRouteConfig = Pick<GatewayConfig, 'legacyApprovalSignature'> & {
  temporal: Pick<TemporalConfig, 'namespace' | 'uiUrl'>;
};

export interface ApprovalRouteDeps {
  config: ApprovalRouteConfig;
  pipelines: PipelineSource;
  approvals: ReleaseApprover;
  metrics: GatewayMetrics;
  /** Signatures already used (default: a new cache for this app). */
  replays?: ReplayCache;
}

interface ApprovalParams {
  namespace: string;
  name: string;
  env: string;
  revision: string;
}

interface ApprovalBody {
  approver: string;
  comment?: string;
}

const paramsSchema = {
  type: 'object',
  required: ['namespace', 'name', 'env', 'revision'],
  properties: {
    namespace: { type: 'string' },
    name: { type: 'string' },
    env: { type: 'string' },
    revision: { type: 'string' },
  },
} as const;

const approvalErrorBodySchema = {
  ...errorBodySchema,
  properties: { ...errorBodySchema.properties, reason: { type: 'string' } },
} as const;

const approvedSchema = {
  type: 'object',
  required: ['workflowId', 'url', 'decision'],
  properties: {
    workflowId: { type: 'string' },
    runId: { type: 'string' },
    url: { type: 'string' },
    pullRequest: { type: 'string' },
    decision: {
      type: 'object',
      required: ['decision', 'environment', 'approver', 'at'],
      properties: {
        decision: { type: 'string' },
        environment: { type: 'string' },
        approver: { type: 'string' },
        comment: { type: 'string' },
        at: { type: 'string' },
      },
    },
  },
} as const;

const approvalBodySchema = {
  type: 'object',
  required: ['approver'],
  additionalProperties: false,
  properties: {
    approver: { type: 'string', minLength: 1, maxLength: 256, pattern: '\\S' },
    comment: { type: 'string', maxLength: 4096 },
  },
} as const;

const ajv = new Ajv({ allErrors: false });
const validateApprovalBody = ajv.compile<ApprovalBody>(approvalBodySchema);

function parseApprovalBody(raw: Buffer): ApprovalBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON: expected {"approver": "you@example.com", "comment": "…"}');
  }
  if (!validateApprovalBody(parsed)) {
    const problems = (validateApprovalBody.errors ?? []).map((e) => {
      const extra =
        e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})` : '';
      return escapeHtml(`body${e.instancePath} ${e.message ?? 'is invalid'}${extra}`);
    });
    throw new HttpError(400, `body is not an approval {"approver", "comment"?}: ${problems.join(', ')}`);
  }
  return parsed;
}

/** The Temporal UI's page of the release (of its run, when known). */
function releaseUrl(temporal: Pick<TemporalConfig, 'namespace' | 'uiUrl'>, receipt: Pick<ApprovalReceipt, 'workflowId' | 'runId'>): string {
  const workflow = `${temporal.uiUrl}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows/${encodeURIComponent(receipt.workflowId)}`;
  return receipt.runId === undefined ? workflow : `${workflow}/${encodeURIComponent(receipt.runId)}/history`;
}

/** How a request was authenticated. */
type Authenticated = { kind: 'signed'; signature: string; expiresAt: number } | { kind: 'legacy' };

export function approvalRoutes(deps: ApprovalRouteDeps) {
  const { config, pipelines, approvals, metrics } = deps;
  const replays = deps.replays ?? new ReplayCache();

  function unauthorized(message: string, details: Record<string, unknown>, outcome = 'unauthorized'): HttpError {
    metrics.approvals.inc({ outcome });
    return new HttpError(401, message, { details });
  }

  /** The Pipeline's `hmac-key`; 401 when it has none (approvals are never accepted unsigned). */
  async function hmacKey(pipeline: Pipeline, request: FastifyRequest): Promise<Buffer> {
    const secretRef = pipeline.spec.promotion?.strategy.secretRef;
    if (secretRef === undefined) {
      throw unauthorized('approvals must be signed, and the Pipeline has no spec.promotion.strategy.secretRef', {
        pipeline: pipelineKey(pipeline),
      });
    }
    let secret;
    try {
      secret = await pipelines.getSecret(pipeline.namespace, secretRef.name);
    } catch (error) {
      metrics.approvals.inc({ outcome: 'unavailable' });
      throw new HttpError(503, 'the approval key could not be read; retry later', {
        headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
        details: { pipeline: pipelineKey(pipeline), secret: `${pipeline.namespace}/${secretRef.name}` },
        cause: error,
      });
    }
    const key = secret?.['hmac-key'];
    if (key === undefined || key.length === 0) {
      request.log.error(
        { pipeline: pipelineKey(pipeline), secret: `${pipeline.namespace}/${secretRef.name}` },
        `cannot verify approvals for Pipeline ${pipelineKey(pipeline)}: Secret ${pipeline.namespace}/${secretRef.name} ` +
          (secret === undefined ? 'not found' : "has no 'hmac-key'"),
      );
      throw unauthorized('signature verification failed', { pipeline: pipelineKey(pipeline), signatureFailure: 'no-key' });
    }
    return key;
  }

  /** 401 unless the request is signed (see the file comment). Never logs the key or the signature. */
  async function authenticate(pipeline: Pipeline, request: FastifyRequest, body: Buffer): Promise<Authenticated> {
    const key = await hmacKey(pipeline, request);
    const details = { pipeline: pipelineKey(pipeline) };
    const header = request.headers[SIGNATURE_HEADER];
    if (header === undefined || header === '')
      throw unauthorized('missing X-Signature header', { ...details, signatureFailure: 'missing' });
    const timestamp = request.headers[TIMESTAMP_HEADER];

    if (timestamp === undefined && config.legacyApprovalSignature && body.length === 0) {
      const check = verifySignature(header, body, key);
      if (!check.ok) throw unauthorized('signature verification failed', { ...details, signatureFailure: check.failure, legacy: true });
      return { kind: 'legacy' };
    }
    if (timestamp === undefined || timestamp === '') {
      throw unauthorized('missing X-Baton-Timestamp header: sign approvals over method, path, timestamp and body', details);
    }
    if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp)) {
      throw unauthorized('X-Baton-Timestamp must be a unix time in seconds', details);
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
    const signature = `${check.algorithm}=${String(header)
      .slice(String(header).indexOf('=') + 1)
      .trim()
      .toLowerCase()}`;
    return { kind: 'signed', signature, expiresAt: (Number(timestamp) + APPROVAL_WINDOW_SECONDS + 1) * 1000 };
  }

  return function register(app: FastifyInstance): Promise<void> {
    app.decorateRequest('pipeline', null);
    // JSON kept as the raw bytes the signature covers; any other content type only without a body
    // (a Weave-style approval has none), anything else is 415.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_APPROVAL_BYTES }, (_request, body, done) => {
      done(null, body);
    });
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_APPROVAL_BYTES }, (_request, body, done) => {
      const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
      if (bytes.length === 0) done(null, bytes);
      else done(new HttpError(415, 'content type must be application/json'), undefined);
    });

    rejectNonPostMethods(app, '/approval');

    app.post<{ Params: ApprovalParams }>(
      APPROVAL_ROUTE,
      {
        bodyLimit: MAX_APPROVAL_BYTES,
        schema: {
          params: paramsSchema,
          response: { 200: approvedSchema, '4xx': approvalErrorBodySchema, '5xx': errorBodySchema },
        },
        preParsing: resolvePipelineFromPath(pipelines),
      },
      async (request, reply) => {
        const pipeline = request.pipeline;
        if (pipeline === null) throw new Error('the Pipeline was not resolved before the handler');
        const { env, revision } = request.params;
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);

        const auth = await authenticate(pipeline, request, raw);
        if (auth.kind === 'signed' && !replays.claim(auth.signature, auth.expiresAt)) {
          throw unauthorized('replayed request', { pipeline: pipelineKey(pipeline), environment: env, revision }, 'replayed');
        }
        // The signature is consumed only by an approval it delivered: a request refused here may be
        // sent again (e.g. after a 503), and its replays are then refused by the workflow instead.
        let delivered = false;
        try {
          let body: ApprovalBody;
          try {
            body = auth.kind === 'legacy' ? { approver: LEGACY_APPROVER } : parseApprovalBody(raw);
          } catch (error) {
            metrics.approvals.inc({ outcome: 'invalid' });
            throw error;
          }
          const version = promotedVersion(revision);
          const approval = {
            pipeline: { namespace: pipeline.namespace, name: pipeline.name },
            version,
            environment: env,
            approver: body.approver,
            ...(body.comment === undefined ? {} : { comment: body.comment }),
          };
          const context = { pipeline: pipelineKey(pipeline), environment: env, version, approver: body.approver };

          let receipt: ApprovalReceipt;
          try {
            receipt = await approvals.approve(approval);
          } catch (error) {
            if (error instanceof ApprovalRefusedError) {
              metrics.approvals.inc({ outcome: 'refused' });
              // Weave's text, and the workflow's reason (which may quote the path and the approver).
              const known = environmentIndex(pipeline.spec, env) >= 0;
              const reason = known ? error.reason : `${error.reason} (Pipeline ${pipelineKey(pipeline)} has no environment ${env})`;
              throw new HttpError(422, APPROVAL_FAILED_MESSAGE, { fields: { reason: escapeHtml(reason) }, details: context });
            }
            if (error instanceof TemporalUnavailableError) {
              metrics.approvals.inc({ outcome: 'unavailable' });
              throw new HttpError(503, 'Temporal is unavailable, the approval was not delivered; retry later', {
                headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
                details: context,
                cause: error,
              });
            }
            metrics.approvals.inc({ outcome: 'error' });
            throw new HttpError(500, INTERNAL_ERROR_MESSAGE, {
              details: { ...context, problem: 'the approve Update failed' },
              cause: error,
            });
          }
          delivered = true;
          metrics.approvals.inc({ outcome: 'approved' });

          const url = releaseUrl(config.temporal, receipt);
          request.log.info({ ...context, workflowId: receipt.workflowId, legacy: auth.kind === 'legacy' }, 'promotion approved');
          return reply
            .code(200)
            .header('location', receipt.pullRequestUrl ?? url)
            .send({
              workflowId: receipt.workflowId,
              ...(receipt.runId === undefined ? {} : { runId: receipt.runId }),
              url,
              ...(receipt.pullRequestUrl === undefined ? {} : { pullRequest: receipt.pullRequestUrl }),
              decision: receipt.decision,
            });
        } finally {
          if (!delivered && auth.kind === 'signed') replays.release(auth.signature);
        }
      },
    );
    return Promise.resolve();
  };
}
