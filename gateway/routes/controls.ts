/**
 * Stop-the-line through the gateway: `POST /stop` and `POST /resume`, with a JSON body
 * `{"scope": {"pipeline": "ns/name", "environment": "prod"}, "reason": "…"}` (an empty scope: every
 * Pipeline); and bad versions: `POST /mark-bad` and `/unmark-bad` with
 * `{"pipeline": "ns/name", "version": "6.7.1", "reason": "…"}`; and rollbacks: `POST /promote` with
 * `{"pipeline": "ns/name", "environment": "prod", "version": "6.7.0", "reason": "…"}`. Authenticated by an OpenID token of the approvers' issuer, as approvals are: the
 * token's user is recorded as who stopped or resumed. Approval keys belong to one Pipeline's
 * environments and do not stop the line.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MAX_REASON_CHARS, type ControlScope } from '../../model/promotion-controls.js';
import { ErrorBody, HttpError } from '../errors.js';
import { type ApprovalTokenVerifier, IssuerUnavailableError, TokenRefusedError } from '../oidc.js';
import { environmentIndex, type PipelineRef } from '../../model/pipeline.js';
import type { PipelineSource } from '../../pipelines/source.js';
import { ControlRefusedError, type PromotionControls } from '../promotion-controls.js';
import type { RollbackStarter } from '../rollback-starter.js';
import { isTemporalUnavailable } from '../temporal-calls.js';
import { rejectNonPostMethods, RETRY_AFTER_SECONDS } from './pipeline-route.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who stops or resumes: the user of the request's OpenID token. */
    controlCaller: string;
  }
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const MAX_CONTROL_BYTES = 8 * 1024;

const PipelineKey = Type.String({ pattern: '^[^/\\s]+/[^/\\s]+$', maxLength: 507 });
const Reason = Type.String({ minLength: 1, maxLength: MAX_REASON_CHARS, pattern: '\\S' });
const Scope = Type.Object(
  {
    pipeline: Type.Optional(PipelineKey),
    environment: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
  },
  { additionalProperties: false },
);
const StopBody = Type.Object({ scope: Type.Optional(Scope), reason: Reason }, { additionalProperties: false });
const ResumeBody = Type.Object({ scope: Type.Optional(Scope) }, { additionalProperties: false });
const Control = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  scope: Scope,
  reason: Type.String(),
  by: Type.String(),
  at: Type.String(),
  version: Type.Optional(Type.String()),
});
/** The version is checked by the workflow's validator (build metadata, characters): a 422 says what is wrong. */
const Version = Type.String({ minLength: 1, maxLength: 256 });
const MarkBody = Type.Object({ pipeline: PipelineKey, version: Version, reason: Reason }, { additionalProperties: false });
const UnmarkBody = Type.Object({ pipeline: PipelineKey, version: Version }, { additionalProperties: false });
const Environment = Type.String({ minLength: 1, maxLength: 253, pattern: '^[^/\\s]+$' });
const PromoteBody = Type.Object(
  {
    pipeline: PipelineKey,
    environment: Environment,
    version: Version,
    reason: Reason,
    /** Accepted and dropped: who asks is the token's user, whatever the body says. */
    by: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);

export interface ControlRoutesDeps {
  /** Verifies bearer tokens of BATON_OIDC_ISSUER; without it nobody can authenticate: the routes answer 401 saying so. */
  tokens?: ApprovalTokenVerifier;
  controls: PromotionControls;
  /** Rollbacks from `POST /promote`; absent, that route does not exist. */
  rollbacks?: RollbackStarter;
  /** Checks a rollback's Pipeline and environment before anything starts. */
  pipelines?: PipelineSource;
}

export function controlRoutes({ tokens, controls, rollbacks, pipelines }: ControlRoutesDeps) {
  /** A 404 or 422 for a rollback the Pipeline cannot take, before any workflow starts. */
  function checkRollbackTarget(ref: PipelineRef, environment: string): void {
    if (pipelines === undefined) return;
    const pipeline = pipelines.getPipeline(ref);
    if (pipeline === undefined) throw new HttpError(404, `no Pipeline ${ref.namespace}/${ref.name}`);
    const index = environmentIndex(pipeline.spec, environment);
    const names = pipeline.spec.environments.map((e) => e.name).join(', ');
    if (index < 0) throw new HttpError(422, `Pipeline ${ref.namespace}/${ref.name} has no environment ${environment} (it has ${names})`);
    if (index === 0) {
      throw new HttpError(
        422,
        `${environment} is the Pipeline's first environment: nothing promotes into it; roll back one after it (${names})`,
      );
    }
  }

  /** The token's user, or the 401/503 that says why there is none. */
  async function caller(authorization: string | undefined): Promise<string> {
    if (tokens === undefined)
      throw new HttpError(401, 'stopping or marking through the gateway takes an OpenID token, and BATON_OIDC_ISSUER is not set');
    const bearer = authorization === undefined ? null : BEARER.exec(authorization);
    if (bearer === null) throw new HttpError(401, 'send Authorization: Bearer <token> (an OpenID token of the approvers’ issuer)');
    try {
      return (await tokens.verify(bearer[1]!)).subject;
    } catch (error) {
      if (error instanceof TokenRefusedError) throw new HttpError(401, `invalid token: ${error.reason}`);
      if (error instanceof IssuerUnavailableError) {
        throw new HttpError(503, 'the identity provider cannot be reached; retry later', {
          headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
          cause: error,
        });
      }
      throw error;
    }
  }

  async function changing<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof ControlRefusedError) throw new HttpError(422, `${what} refused: ${error.message}`);
      if (isTemporalUnavailable(error)) {
        throw new HttpError(503, 'Temporal is unavailable; retry later', {
          headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
          cause: error,
        });
      }
      throw error;
    }
  }

  return function register(app: FastifyInstance): Promise<void> {
    // Authenticated before the body is read: without a token, a malformed body is still a 401.
    app.decorateRequest('controlCaller', '');
    app.addHook('onRequest', async (request) => {
      if (request.method === 'POST') request.controlCaller = await caller(request.headers.authorization);
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      'application/json',
      { parseAs: 'string', bodyLimit: MAX_CONTROL_BYTES },
      app.getDefaultJsonParser('error', 'error'),
    );
    rejectNonPostMethods(app, '/stop');
    rejectNonPostMethods(app, '/resume');
    rejectNonPostMethods(app, '/mark-bad');
    rejectNonPostMethods(app, '/unmark-bad');
    if (rollbacks !== undefined) rejectNonPostMethods(app, '/promote');
    const typed = app.withTypeProvider<TypeBoxTypeProvider>();
    typed.post(
      '/stop',
      {
        config: { rateLimit: 'by-authentication' },
        bodyLimit: MAX_CONTROL_BYTES,
        schema: { body: StopBody, response: { 200: Type.Object({ stopped: Control }), '4xx': ErrorBody, '5xx': ErrorBody } },
      },
      async (request) => {
        const by = request.controlCaller;
        const scope: ControlScope = request.body.scope ?? {};
        const stopped = await changing('the stop', () => controls.stop({ scope, reason: request.body.reason, by }));
        request.log.info({ by, scope, id: stopped.id }, 'promotions stopped');
        return { stopped };
      },
    );
    typed.post(
      '/resume',
      {
        config: { rateLimit: 'by-authentication' },
        bodyLimit: MAX_CONTROL_BYTES,
        schema: { body: ResumeBody, response: { 200: Type.Object({ lifted: Type.Array(Control) }), '4xx': ErrorBody, '5xx': ErrorBody } },
      },
      async (request) => {
        const by = request.controlCaller;
        const scope: ControlScope = request.body.scope ?? {};
        const lifted = await changing('the resume', () => controls.resume({ scope, by }));
        request.log.info({ by, scope, lifted: lifted.map((c) => c.id) }, 'promotions resumed');
        return { lifted };
      },
    );
    typed.post(
      '/mark-bad',
      {
        config: { rateLimit: 'by-authentication' },
        bodyLimit: MAX_CONTROL_BYTES,
        schema: {
          body: MarkBody,
          response: {
            200: Type.Object({ marked: Control, endedRelease: Type.Optional(Type.String()) }),
            '4xx': ErrorBody,
            '5xx': ErrorBody,
          },
        },
      },
      async (request) => {
        const by = request.controlCaller;
        const { pipeline, version, reason } = request.body;
        const { mark, endedRelease } = await changing('the mark', () => controls.markBad({ pipeline, version, reason, by }));
        request.log.info({ by, pipeline, version, id: mark.id, endedRelease }, 'version marked bad');
        return { marked: mark, ...(endedRelease === undefined ? {} : { endedRelease }) };
      },
    );
    typed.post(
      '/unmark-bad',
      {
        config: { rateLimit: 'by-authentication' },
        bodyLimit: MAX_CONTROL_BYTES,
        schema: { body: UnmarkBody, response: { 200: Type.Object({ lifted: Control }), '4xx': ErrorBody, '5xx': ErrorBody } },
      },
      async (request) => {
        const by = request.controlCaller;
        const { pipeline, version } = request.body;
        const lifted = await changing('the unmark', () => controls.unmarkBad({ pipeline, version, by }));
        request.log.info({ by, pipeline, version, id: lifted.id }, 'mark lifted');
        return { lifted };
      },
    );
    if (rollbacks !== undefined) {
      typed.post(
        '/promote',
        {
          config: { rateLimit: 'by-authentication' },
          bodyLimit: MAX_CONTROL_BYTES,
          schema: {
            body: PromoteBody,
            response: {
              202: Type.Object({
                workflowId: Type.String(),
                runId: Type.String(),
                rollback: Type.Object({ environment: Type.String(), at: Type.String() }),
              }),
              '4xx': ErrorBody,
              '5xx': ErrorBody,
            },
          },
        },
        async (request, reply) => {
          const by = request.controlCaller;
          const { environment, version, reason } = request.body;
          const [namespace, name] = request.body.pipeline.split('/') as [string, string];
          checkRollbackTarget({ namespace, name }, environment);
          const started = await changing('the rollback', () =>
            rollbacks.start({ pipeline: { namespace, name }, environment, version, reason, by }),
          );
          request.log.info(
            { by, pipeline: request.body.pipeline, environment, version, workflowId: started.workflowId },
            'rollback asked for',
          );
          return reply.code(202).send({
            workflowId: started.workflowId,
            runId: started.runId,
            rollback: { environment, at: started.rollback.at },
          });
        },
      );
    }
    return Promise.resolve();
  };
}
