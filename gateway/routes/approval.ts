/**
 * The approval endpoint, `POST /approval/{pipelineNamespace}/{pipelineName}/{targetEnv}/{revision}`:
 * Weave's endpoint, delivered as the release workflow's `approve` Update (and `POST /rejection/…`, the
 * `reject` Update), authenticated
 * (approval-auth.ts) by an OpenID token or an approval key, never by the webhook key. The decision
 * carries how its approver was authenticated. docs/http-api.md lists every answer and the phase
 * that decides it.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import { type Static, Type } from 'typebox';
import type { GatewayConfig, TemporalConfig } from '../../config/config.js';
import { escapeHtml } from '../../model/html.js';
import { environmentIndex, pipelineKey } from '../../model/pipeline.js';
import { workflowUrl } from '../../model/temporal-ui.js';
import { checkRevision } from '../../model/version.js';
import type { PipelineSource } from '../../pipelines/source.js';
import { ErrorBody, HttpError, INTERNAL_ERROR_MESSAGE } from '../errors.js';
import type { GatewayMetrics } from '../plugins/metrics.js';
import type { GatewayRateLimits } from '../rate-limits.js';
import { type ApprovalReceipt, ApprovalRefusedError, type ReleaseApprover } from '../release-approver.js';
import { ReplayCache } from '../replay-cache.js';
import { TemporalLimitError, TemporalUnavailableError } from '../temporal-calls.js';
import { type ApprovalAuth, authenticateApproval, LEGACY_APPROVER } from '../approval-auth.js';
import type { ApprovalTokenVerifier } from '../oidc.js';
import { rejectNonPostMethods, resolvePipelineFromPath, RETRY_AFTER_SECONDS } from './pipeline-route.js';

export const APPROVAL_ROUTE = '/approval/:namespace/:name/:env/:revision';
/**
 * Baton's own counterpart, delivered as the `reject` Update. A path of its own rather than a field
 * of the body: the signature covers the path, so a signed approval can never be replayed as a
 * rejection (or the reverse), and Weave's endpoint keeps its meaning.
 */
export const REJECTION_ROUTE = '/rejection/:namespace/:name/:env/:revision';
export { LEGACY_APPROVER };
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
  /** Counts the request once authentication decided (rate-limits.ts). */
  limits: GatewayRateLimits;
  /** Signatures already used (default: a new cache for this app). */
  replays?: ReplayCache;
  /** Verifies bearer tokens of BATON_OIDC_ISSUER; absent, approvals take approval keys only. */
  tokens?: ApprovalTokenVerifier;
}

const ApprovalParams = Type.Object({ namespace: Type.String(), name: Type.String(), env: Type.String(), revision: Type.String() });

/** A 4xx of this route may say why the workflow refused the approval. */
const ApprovalErrorBody = Type.Object({ ...ErrorBody.properties, reason: Type.Optional(Type.String()) });

const Approved = Type.Object({
  workflowId: Type.String(),
  runId: Type.Optional(Type.String()),
  url: Type.String(),
  pullRequest: Type.Optional(Type.String()),
  decision: Type.Object({
    decision: Type.String(),
    environment: Type.String(),
    approver: Type.String(),
    comment: Type.Optional(Type.String()),
    allowDowngrade: Type.Optional(Type.Boolean()),
    at: Type.String(),
    /** Under a quorum: approvals received (this one included) and required; the gate decides at `required`. */
    quorum: Type.Optional(Type.Object({ received: Type.Integer(), required: Type.Integer() })),
  }),
  /** How the gateway authenticated the approver (what the workflow received with the decision). */
  authentication: Type.Object({
    method: Type.String(),
    subject: Type.String(),
    verified: Type.Boolean(),
    issuer: Type.Optional(Type.String()),
    groups: Type.Optional(Type.Array(Type.String())),
    key: Type.Optional(Type.String()),
  }),
});

/** Checked by hand after the signature (the body is kept raw for it), not by fastify. */
const ApprovalBody = Type.Object(
  {
    approver: Type.String({ minLength: 1, maxLength: 256, pattern: '\\S' }),
    comment: Type.Optional(Type.String({ maxLength: 4096 })),
    /** Promote even when a higher version is already in the environment (Pipelines that queue versions). */
    allowDowngrade: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
type ApprovalBody = Static<typeof ApprovalBody>;

/** With a token the approver is the token's user: the body may leave it out (or be empty). */
const TokenApprovalBody = Type.Object(
  {
    approver: Type.Optional(ApprovalBody.properties.approver),
    comment: ApprovalBody.properties.comment,
    allowDowngrade: ApprovalBody.properties.allowDowngrade,
  },
  { additionalProperties: false },
);
type TokenApprovalBody = Static<typeof TokenApprovalBody>;

const ajv = new Ajv({ allErrors: false });
const validateApprovalBody = ajv.compile<ApprovalBody>(ApprovalBody);
const validateTokenApprovalBody = ajv.compile<TokenApprovalBody>(TokenApprovalBody);

/** The approver and comment of an authenticated request, and how its approver was authenticated. */
function readApproval(
  auth: ApprovalAuth,
  raw: Buffer,
): { approver: string; comment?: string; allowDowngrade?: boolean; authentication: ApprovalAuth['authentication'] } {
  if (auth.kind === 'legacy') return { approver: LEGACY_APPROVER, authentication: auth.authentication };
  if (auth.kind === 'approval-key') {
    const body = parseApprovalBody(raw, validateApprovalBody);
    return { ...body, authentication: { ...auth.authentication, subject: body.approver } };
  }
  const body = raw.length === 0 ? {} : parseApprovalBody(raw, validateTokenApprovalBody);
  const subject = auth.authentication.subject;
  // Refused rather than ignored: whoever typed another name believes they approve as someone else.
  if (body.approver !== undefined && body.approver !== subject) {
    throw new HttpError(403, 'the approver is the token\'s user: leave "approver" out of the body, or send the same name', {
      details: { approver: body.approver, subject },
    });
  }
  return {
    approver: subject,
    ...(body.comment === undefined ? {} : { comment: body.comment }),
    ...(body.allowDowngrade === undefined ? {} : { allowDowngrade: body.allowDowngrade }),
    authentication: auth.authentication,
  };
}

function parseApprovalBody<T>(raw: Buffer, validate: ((value: unknown) => value is T) & { errors?: unknown }): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON: expected {"approver": "you@example.com", "comment": "…"}');
  }
  if (!validate(parsed)) {
    const problems = ((validate.errors ?? []) as NonNullable<typeof validateApprovalBody.errors>).map((e) => {
      const extra =
        e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})` : '';
      return escapeHtml(`body${e.instancePath} ${e.message ?? 'is invalid'}${extra}`);
    });
    throw new HttpError(400, `body is not an approval {"approver", "comment"?, "allowDowngrade"?}: ${problems.join(', ')}`);
  }
  return parsed;
}

export function approvalRoutes(deps: ApprovalRouteDeps) {
  const { config, pipelines, approvals, metrics, limits } = deps;
  const replays = deps.replays ?? new ReplayCache();
  const { tokens } = deps;
  const authOptions = {
    pipelines,
    metrics,
    legacyApprovalSignature: config.legacyApprovalSignature,
    ...(tokens === undefined ? {} : { tokens }),
  };

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
    rejectNonPostMethods(app, '/rejection');

    for (const { route, kind } of [
      { route: APPROVAL_ROUTE, kind: 'approve' },
      { route: REJECTION_ROUTE, kind: 'reject' },
    ] as const) {
      app.withTypeProvider<TypeBoxTypeProvider>().post(
        route,
        {
          config: { rateLimit: 'by-authentication' },
          bodyLimit: MAX_APPROVAL_BYTES,
          schema: {
            params: ApprovalParams,
            response: { 200: Approved, '4xx': ApprovalErrorBody, '5xx': ErrorBody },
          },
          preParsing: resolvePipelineFromPath(pipelines),
        },
        async (request, reply) => {
          const pipeline = request.pipeline;
          if (pipeline === null) throw new Error('the Pipeline was not resolved before the handler');
          const { env, revision } = request.params;
          const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);

          // Weave's signature covers no path, so it would reject as readily as it approves: it stays
          // on Weave's own endpoint.
          const auth = await authenticateApproval(
            kind === 'reject' ? { ...authOptions, legacyApprovalSignature: false } : authOptions,
            pipeline,
            env,
            request,
            raw,
          );
          // Before the replay cache: a 429 must leave the signature usable for the retry.
          limits.authenticated(request, pipeline);
          if (auth.kind === 'approval-key' && !replays.claim(auth.signature, auth.expiresAt)) {
            metrics.approvals.inc({ outcome: 'replayed' });
            throw new HttpError(401, 'replayed request', { details: { pipeline: pipelineKey(pipeline), environment: env, revision } });
          }
          // The signature is consumed only by an approval it delivered: a request refused here may be
          // sent again (e.g. after a 503), and its replays are then refused by the workflow instead.
          let delivered = false;
          try {
            let body: ReturnType<typeof readApproval>;
            try {
              body = readApproval(auth, raw);
            } catch (error) {
              metrics.approvals.inc({ outcome: 'invalid' });
              throw error;
            }
            const checked = checkRevision(revision);
            if (!checked.ok) {
              metrics.approvals.inc({ outcome: 'invalid' });
              throw new HttpError(422, APPROVAL_FAILED_MESSAGE, {
                fields: { reason: `the revision in the path cannot be a version: ${checked.problem}` },
              });
            }
            const { version } = checked;
            const approval = {
              pipeline: { namespace: pipeline.namespace, name: pipeline.name },
              version,
              environment: env,
              approver: body.approver,
              ...(body.comment === undefined ? {} : { comment: body.comment }),
              ...(kind === 'approve' && body.allowDowngrade === true ? { allowDowngrade: true } : {}),
              authentication: body.authentication,
              decision: kind,
            };
            const context = {
              decision: kind,
              pipeline: pipelineKey(pipeline),
              environment: env,
              version,
              approver: body.approver,
              authentication: body.authentication.method,
              ...(body.authentication.key === undefined ? {} : { key: body.authentication.key }),
            };

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
              if (error instanceof TemporalLimitError) {
                metrics.approvals.inc({ outcome: 'invalid' });
                throw new HttpError(422, APPROVAL_FAILED_MESSAGE, { fields: { reason: error.message }, details: context });
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
            metrics.approvals.inc({ outcome: kind === 'reject' ? 'rejected' : 'approved' });

            const url = workflowUrl(config.temporal, receipt.workflowId, receipt.runId);
            request.log.info(
              { ...context, workflowId: receipt.workflowId },
              kind === 'reject' ? 'promotion rejected' : 'promotion approved',
            );
            return reply
              .code(200)
              .header('location', receipt.pullRequestUrl ?? url)
              .send({
                workflowId: receipt.workflowId,
                ...(receipt.runId === undefined ? {} : { runId: receipt.runId }),
                url,
                ...(receipt.pullRequestUrl === undefined ? {} : { pullRequest: receipt.pullRequestUrl }),
                decision: receipt.decision,
                authentication: body.authentication,
              });
          } finally {
            if (!delivered && auth.kind === 'approval-key') replays.release(auth.signature);
          }
        },
      );
    }
    return Promise.resolve();
  };
}
