/**
 * The promotion webhook, `POST /promotion/{pipelineNamespace}/{pipelineName}/{sourceEnv}`. Each
 * check runs at the earliest request phase that can decide it; docs/http-api.md lists every answer
 * and its phase.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import { type Static, Type } from 'typebox';
import type { GatewayConfig, TemporalConfig } from '../../config/config.js';
import { deploymentEvent, eventRevision, type FluxEvent, isFailureEvent, judgeEvent } from '../../model/flux-event.js';
import { escapeHtml } from '../../model/html.js';
import {
  effectivePromotion,
  environmentIndex,
  involvedObjectMatches,
  type Pipeline,
  pipelineKey,
  strategyName,
} from '../../model/pipeline.js';
import { invalidPolicyMessage, promotionPolicyProblems } from '../../model/promotion-policies.js';
import { workflowUrl } from '../../model/temporal-ui.js';
import { checkRevision } from '../../model/version.js';
import type { PipelineSource } from '../../pipelines/source.js';
import { ErrorBody, html, HttpError, INTERNAL_ERROR_MESSAGE } from '../errors.js';
import type { GatewayMetrics } from '../plugins/metrics.js';
import type { GatewayRateLimits } from '../rate-limits.js';
import type { BadVersions } from '../bad-versions.js';
import type { DeliveryReceipt, ReleaseStarter } from '../release-starter.js';
import { TemporalLimitError, TemporalUnavailableError } from '../temporal-calls.js';
import { authenticatePromotion } from '../webhook-auth.js';
import { rejectNonPostMethods, resolvePipelineFromPath, RETRY_AFTER_SECONDS } from './pipeline-route.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The Pipeline of a promotion request, resolved before its body is read. */
    pipeline: Pipeline | null;
  }
}

export const PROMOTION_ROUTE = '/promotion/:namespace/:name/:env';
/** Flux events are a few hundred bytes; 1 MiB leaves room for long Helm error messages. */
export const MAX_EVENT_BYTES = 1024 * 1024;
export type PromotionRouteConfig = Pick<GatewayConfig, 'allowUnsigned' | 'promotingReasons'> & {
  temporal: Pick<TemporalConfig, 'namespace' | 'uiUrl'>;
};

export interface PromotionRouteDeps {
  config: PromotionRouteConfig;
  pipelines: PipelineSource;
  releases: ReleaseStarter;
  metrics: GatewayMetrics;
  /** Counts the request once authentication decided (rate-limits.ts). */
  limits: GatewayRateLimits;
  /** Versions marked bad are not promoted; absent (no Temporal), nothing is marked. */
  badVersions?: BadVersions;
}

const PromotionParams = Type.Object({ namespace: Type.String(), name: Type.String(), env: Type.String() });

const Accepted = Type.Object({
  workflowId: Type.String(),
  /** Absent for a failure event: it is signalled to whichever run of the release is current. */
  runId: Type.Optional(Type.String()),
  url: Type.String(),
  alreadyCompleted: Type.Optional(Type.Boolean()),
  /** The event reported a failed deployment, delivered to the running release, which stops. */
  failure: Type.Optional(Type.Boolean()),
});

const Ignored = Type.Object({ ignored: Type.Boolean(), reason: Type.String() });

/**
 * The Flux event (fluxcd/pkg/apis/event), checked only after the signature: an unauthenticated
 * caller learns nothing about what a valid body looks like. `metadata.revision` is deliberately not
 * required here: its absence has its own answer (422).
 */
const FluxEventBody = Type.Object({
  involvedObject: Type.Object({
    apiVersion: Type.Optional(Type.String()),
    kind: Type.String({ minLength: 1 }),
    name: Type.String({ minLength: 1 }),
    namespace: Type.String({ minLength: 1 }),
    uid: Type.Optional(Type.String()),
    resourceVersion: Type.Optional(Type.String()),
  }),
  severity: Type.String({ minLength: 1 }),
  timestamp: Type.String(),
  message: Type.String(),
  reason: Type.String({ minLength: 1 }),
  metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
  reportingController: Type.String({ minLength: 1 }),
  reportingInstance: Type.Optional(Type.String()),
});

const ajv = new Ajv({ allErrors: false });
const validateFluxEvent = ajv.compile<Static<typeof FluxEventBody>>(FluxEventBody);

function parseFluxEvent(raw: Buffer): FluxEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
  if (!validateFluxEvent(parsed)) {
    // Ajv's messages come from the schema; the paths may name the sender's keys.
    const problems = (validateFluxEvent.errors ?? []).map((e) => `${escapeHtml(`event${e.instancePath}`)} ${e.message ?? 'is invalid'}`);
    throw new HttpError(400, `body is not a Flux event: ${problems.join(', ')}`);
  }
  return parsed;
}

export function promotionRoutes(deps: PromotionRouteDeps) {
  const { config, pipelines, releases, metrics, limits, badVersions } = deps;

  const authOptions = { pipelines, metrics, allowUnsigned: config.allowUnsigned };

  return function register(app: FastifyInstance): Promise<void> {
    app.decorateRequest('pipeline', null);
    // Only JSON, kept as the raw bytes the signature covers; anything else is 415.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_EVENT_BYTES }, (_request, body, done) => {
      done(null, body);
    });

    rejectNonPostMethods(app, '/promotion');

    app.withTypeProvider<TypeBoxTypeProvider>().post(
      PROMOTION_ROUTE,
      {
        config: { rateLimit: 'by-authentication' },
        bodyLimit: MAX_EVENT_BYTES,
        schema: {
          params: PromotionParams,
          response: { 200: Ignored, 202: Accepted, '4xx': ErrorBody, '5xx': ErrorBody },
        },
        preParsing: resolvePipelineFromPath(pipelines),
      },
      async (request, reply) => {
        const receivedAt = new Date().toISOString();
        const pipeline = request.pipeline;
        if (pipeline === null) throw new Error('the Pipeline was not resolved before the handler');
        const { env } = request.params;
        const { spec } = pipeline;
        const raw = request.body;
        // No content type and no body: fastify skips parsing. Still not JSON.
        if (!Buffer.isBuffer(raw)) throw new HttpError(415, 'content type must be application/json');

        await authenticatePromotion(authOptions, pipeline, request, raw);
        limits.authenticated(request, pipeline);
        const event = parseFluxEvent(raw);

        const revision = eventRevision(event);
        if (revision === undefined) throw new HttpError(422, "event has no 'revision' in the metadata field.");
        const checked = checkRevision(revision);
        if (!checked.ok) throw new HttpError(422, `event's revision cannot be promoted: ${checked.problem}`);
        const { version } = checked;

        const index = environmentIndex(spec, env);
        if (index < 0) throw new HttpError(422, html`app ${pipelineKey(pipeline)} has no environment ${env} defined`);
        const next = spec.environments[index + 1];
        if (next !== undefined && next.targets.length === 0) {
          throw new HttpError(422, html`environment ${next.name} has no targets`);
        }
        if (!involvedObjectMatches(spec, env, event.involvedObject)) {
          throw new HttpError(422, 'involved object does not match Pipeline definition');
        }
        // Before the policy check: a failure must reach its release whatever the Pipeline's annotations say.
        if (isFailureEvent(event))
          return deliverFailure(request, reply, { pipeline, version, environment: env, event, revision, receivedAt });

        // A policy that cannot be read is never "no policy": the release would fail on it anyway.
        const problems = promotionPolicyProblems(pipeline);
        if (problems.length > 0) throw new HttpError(422, escapeHtml(invalidPolicyMessage(pipelineKey(pipeline), problems)));

        const verdict = judgeEvent(event, config.promotingReasons);
        if (!verdict.promotes) {
          metrics.ignoredEvents.inc({ cause: event.severity === 'info' ? 'reason' : 'severity' });
          request.log.info(
            { pipeline: pipelineKey(pipeline), environment: env, revision, why: verdict.why },
            'event does not promote; ignored',
          );
          return reply.code(200).send({ ignored: true, reason: escapedVerdict(event, config.promotingReasons) });
        }

        // A version marked bad is never promoted again, whichever environment reports it.
        const bad = badVersions === undefined ? {} : await badVersions.lookup(pipelineKey(pipeline), version);
        if (bad.unknown !== undefined) {
          request.log.warn(
            { pipeline: pipelineKey(pipeline), version, why: bad.unknown },
            'marks of bad versions unknown; event delivered',
          );
        }
        if (bad.mark !== undefined) {
          metrics.ignoredEvents.inc({ cause: 'marked-bad' });
          request.log.info(
            { pipeline: pipelineKey(pipeline), environment: env, version, mark: bad.mark.id },
            'version marked bad; ignored',
          );
          return reply.code(200).send({
            ignored: true,
            reason: escapeHtml(
              `${version} of ${pipelineKey(pipeline)} is marked bad by ${bad.mark.by} at ${bad.mark.at}: ${bad.mark.reason}`,
            ),
          });
        }

        if (next !== undefined) {
          const promotion = effectivePromotion(spec, next.name);
          const strategy = promotion === undefined ? undefined : strategyName(promotion);
          if (strategy === undefined) {
            throw new HttpError(500, INTERNAL_ERROR_MESSAGE, {
              details: {
                pipeline: pipelineKey(pipeline),
                targetEnvironment: next.name,
                problem:
                  promotion === undefined
                    ? `no promotion configured for environment ${next.name} (neither spec.environments[${index + 1}].promotion nor spec.promotion)`
                    : `the promotion for environment ${next.name} selects no strategy (pull-request or notification)`,
              },
            });
          }
        }

        const stopTimer = metrics.signalWithStart.startTimer();
        let receipt: DeliveryReceipt;
        try {
          receipt = await releases.deliver({
            pipeline,
            version,
            environment: env,
            event: deploymentEvent(event, revision),
            receivedAt,
          });
          stopTimer({ outcome: receipt.alreadyCompleted ? 'already-completed' : 'started' });
        } catch (error) {
          if (error instanceof TemporalUnavailableError) {
            stopTimer({ outcome: 'unavailable' });
            // "Not recorded" would be a guess: a call that timed out may have been carried out. Either
            // way sending it again is safe, a repeated event changes nothing.
            throw new HttpError(503, 'Temporal is unavailable or did not answer in time, the event may not be recorded; retry later', {
              headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
              details: { pipeline: pipelineKey(pipeline), environment: env, version },
              cause: error,
            });
          }
          if (error instanceof TemporalLimitError) {
            stopTimer({ outcome: 'refused' });
            throw new HttpError(422, `the event cannot be recorded: ${error.message}`, {
              details: { pipeline: pipelineKey(pipeline), environment: env, version },
            });
          }
          stopTimer({ outcome: 'error' });
          throw new HttpError(500, INTERNAL_ERROR_MESSAGE, {
            details: { pipeline: pipelineKey(pipeline), environment: env, version, problem: 'signal-with-start failed' },
            cause: error,
          });
        }

        const url = workflowUrl(config.temporal, receipt.workflowId, receipt.runId);
        logAccepted(request.log, { pipeline: pipelineKey(pipeline), environment: env, version, ...receipt });
        return reply
          .code(202)
          .header('location', url)
          .send({ ...receipt, url });
      },
    );
    return Promise.resolve();
  };

  /**
   * A failure of a version a running release promoted stops that release; one no release runs for
   * is acknowledged (200 ignored) as before, and never starts one.
   */
  async function deliverFailure(
    request: FastifyRequest,
    reply: FastifyReply,
    {
      pipeline,
      version,
      environment,
      event,
      revision,
      receivedAt,
    }: { pipeline: Pipeline; version: string; environment: string; event: FluxEvent; revision: string; receivedAt: string },
  ) {
    const context = { pipeline: pipelineKey(pipeline), environment, version, reason: event.reason };
    let delivered: { workflowId: string } | undefined;
    try {
      delivered = await releases.deliverFailure({ pipeline, version, environment, event: deploymentEvent(event, revision), receivedAt });
    } catch (error) {
      if (error instanceof TemporalUnavailableError) {
        // Not lost: Flux retries, and the failure still stops the release.
        throw new HttpError(503, 'Temporal is unavailable, the failure was not delivered; retry later', {
          headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
          details: context,
          cause: error,
        });
      }
      if (error instanceof TemporalLimitError) {
        throw new HttpError(422, `the event cannot be recorded: ${error.message}`, { details: context });
      }
      throw new HttpError(500, INTERNAL_ERROR_MESSAGE, { details: { ...context, problem: 'signalling the failure failed' }, cause: error });
    }
    if (delivered === undefined) {
      metrics.ignoredEvents.inc({ cause: 'severity' });
      request.log.info(context, 'failure event for a version no release runs for; ignored');
      return reply.code(200).send({
        ignored: true,
        reason: `no release of this version runs for ${escapeHtml(pipelineKey(pipeline))}: a failure event stops a running release and never starts one`,
      });
    }
    const url = workflowUrl(config.temporal, delivered.workflowId);
    request.log.warn({ ...context, workflowId: delivered.workflowId }, 'failure event delivered: the release stops');
    return reply.code(202).header('location', url).send({ workflowId: delivered.workflowId, url, failure: true });
  }
}

/**
 * The verdict's text quotes the event's severity and reason; judge again over their escaped values
 * to reflect them safely (escaping is one-to-one, so the verdict itself cannot change).
 */
function escapedVerdict(event: FluxEvent, promotingReasons: readonly string[]): string {
  const verdict = judgeEvent(
    { ...event, severity: escapeHtml(event.severity), reason: escapeHtml(event.reason) },
    promotingReasons.map(escapeHtml),
  );
  return verdict.promotes ? '' : verdict.why;
}

function logAccepted(log: FastifyBaseLogger, fields: Record<string, unknown>): void {
  log.info(fields, fields.alreadyCompleted ? 'event for a completed release; nothing to do' : 'event delivered to the release workflow');
}
