/**
 * The gateway's plugin tree. `buildApp` never listens: `server.ts` does, and tests use `inject()`.
 *
 * Root hooks, in the order of the answers: the shutdown 503, then the per-client rate limit of
 * unauthenticated requests (rate-limits.ts) on 404s, 405s and malformed URLs, but not on the probes
 * and `/metrics`. `/promotion` and `/approval` count their requests once authentication decided.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type LogLevel,
} from 'fastify';
import type { Tracer } from '@opentelemetry/api';
import { MAX_REVISION_LENGTH } from '../model/version.js';
import type { GatewayConfig, TemporalConfig } from '../config/config.js';
import type { PipelineSource } from '../pipelines/source.js';
import { trustProxyOption } from './client-ip.js';
import { errorHandler, HttpError } from './errors.js';
import { type GatewayMetrics, installMetrics, type MetricsOptions } from './plugins/metrics.js';
import { gatewayRateLimits, type GatewayRateLimits } from './rate-limits.js';
import type { ReleaseApprover } from './release-approver.js';
import type { ReleaseStarter } from './release-starter.js';
import type { ReplayCache } from './replay-cache.js';
import { SIGNATURE_HEADER } from './hmac.js';
import { type BadVersions, createBadVersions } from './bad-versions.js';
import type { PromotionControls } from './promotion-controls.js';
import type { RollbackStarter } from './rollback-starter.js';
import { createOidcVerifier } from './oidc.js';
import { approvalRoutes } from './routes/approval.js';
import { controlRoutes } from './routes/controls.js';
import { healthRoutes } from './routes/health.js';
import { MAX_EVENT_BYTES, promotionRoutes } from './routes/promotion.js';

/** The gateway's configuration plus where the Temporal UI shows the workflows it starts. */
export type GatewayAppConfig = GatewayConfig & { temporal: Pick<TemporalConfig, 'namespace' | 'uiUrl'> };

export interface GatewayDeps {
  config: GatewayAppConfig;
  pipelines: PipelineSource;
  releases: ReleaseStarter;
  /** Delivers approvals from `POST /approval/…` to the release workflows. */
  approvals: ReleaseApprover;
  /** Stops and resumes from `POST /stop` and `/resume`; absent, those routes do not exist. */
  controls?: PromotionControls;
  /** Rollbacks from `POST /promote` (with `controls`); absent, that route does not exist. */
  rollbacks?: RollbackStarter;
  /** The versions marked bad, read through `controls` (default: read at most every few seconds). */
  badVersions?: BadVersions;
  logger: FastifyBaseLogger;
  /** Signatures of approvals already used (default: one cache per app). */
  replays?: ReplayCache;
  metrics?: MetricsOptions;
  /** With tracing: a span per request, active while the handler talks to Temporal. */
  tracer?: Tracer;
}

/** `Retry-After` of the 503 answered while the gateway shuts down: another replica, or this one restarted. */
const SHUTDOWN_RETRY_AFTER_SECONDS = 5;

/**
 * Node's server timeouts. Its defaults let a client hold a socket open forever (no request or idle
 * timeout); these bound a slow upload, an idle socket and a keep-alive connection, while leaving a
 * request that waits for Temporal (up to the signal timeout) enough room to be answered.
 */
export function serverTimeouts(config: Pick<GatewayConfig, 'signalTimeoutMs'>): {
  requestTimeout: number;
  connectionTimeout: number;
  keepAliveTimeout: number;
} {
  return {
    /** Receiving the whole request, 1 MiB body included. */
    requestTimeout: 30_000,
    /** Socket inactivity; covers the handler's wait for Temporal (describe included) with margin. */
    connectionTimeout: Math.max(60_000, 2 * config.signalTimeoutMs + 10_000),
    /** Above the 60 s idle timeout of common load balancers, so they close idle connections first. */
    keepAliveTimeout: 72_000,
  };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `false`: never rate limited (probes, metrics). `'by-authentication'`: the route counts its
     * requests itself, per Pipeline once authenticated, per client when refused before that.
     */
    rateLimit?: false | 'by-authentication';
    /** `false`: no trace span for this route's requests (probes, scrapes); see request-spans.ts. */
    trace?: false;
  }
  interface FastifyRequest {
    /** The request was counted in a rate-limit bucket already. */
    rateCounted: boolean;
  }
}

/**
 * Longest path parameter: a revision of `MAX_REVISION_LENGTH` characters, each percent-encoded.
 * Longer is a 414, answered by `frameworkErrors` below.
 */
const MAX_PARAM_LENGTH = 3 * MAX_REVISION_LENGTH;

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * The log level of routes polled every few seconds (probes, scrapes): `warn`, so their request lines
 * stay out of the log, unless the logger is set quieter still (a route level can only raise noise).
 */
function pollingLogLevel(level: string): LogLevel {
  const index = LEVELS.indexOf(level as LogLevel);
  return index > LEVELS.indexOf('warn') ? (LEVELS[index] ?? 'warn') : 'warn';
}

export async function buildApp(deps: GatewayDeps): Promise<FastifyInstance> {
  const { config, pipelines, releases, approvals } = deps;
  // Created before the app: fastify's own answers to malformed URLs (frameworkErrors) use them.
  const late: { metrics?: GatewayMetrics } = {};
  const limits = gatewayRateLimits({ ...config.rateLimit, onLimited: () => late.metrics?.rateLimited.inc() });

  const app = Fastify({
    loggerInstance: deps.logger,
    trustProxy: trustProxyOption(config.trustedProxies),
    bodyLimit: MAX_EVENT_BYTES,
    // Our own onRequest hook answers 503 while closing, with `Retry-After`.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // fastify's defaults drop unknown keys and coerce types before validating: a misspelt scope key
    // of a stop would vanish and leave an empty scope, which stops every Pipeline. A body is taken as
    // sent, or refused (400).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    frameworkErrors: (error, request, reply) => frameworkError(error, request, reply, limits, late.metrics),
    ...serverTimeouts(config),
  });
  app.decorateRequest('rateCounted', false);
  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    // A webhook request refused before its authentication succeeded costs the client one request.
    if (!request.rateCounted && request.routeOptions.config.rateLimit === 'by-authentication' && isCountedRefusal(error)) {
      request.rateCounted = true;
      errorHandler(limits.unauthenticated(request) ?? error, request, reply);
      return;
    }
    errorHandler(error, request, reply);
  });

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    void reply.header('connection', 'close');
    throw new HttpError(503, 'the gateway is shutting down; retry later', {
      headers: { 'retry-after': String(SHUTDOWN_RETRY_AFTER_SECONDS) },
    });
  });

  if (deps.tracer !== undefined) {
    const { traceRequests } = await import('./request-spans.js');
    traceRequests(app, deps.tracer);
  }

  const logLevel = pollingLogLevel(deps.logger.level);
  const installed = installMetrics(app, { ...deps.metrics, logLevel });
  late.metrics = installed;

  app.addHook('onRequest', (request, _reply, done) => {
    done(rateLimitBeforeRouting(request));
  });
  function rateLimitBeforeRouting(request: FastifyRequest): HttpError | undefined {
    const mode = request.routeOptions.config.rateLimit;
    if (mode === false) return undefined;
    if (mode === 'by-authentication') {
      // A client over its allowance is refused at once when the request cannot authenticate
      // anyway (no signature, no bearer token); one with a credential is still checked, so it may
      // get through.
      const credential = request.headers[SIGNATURE_HEADER] !== undefined || request.headers.authorization !== undefined;
      if (!config.allowUnsigned && !credential && limits.clientExhausted(request)) {
        request.rateCounted = true;
        return limits.unauthenticated(request);
      }
      return undefined;
    }
    request.rateCounted = true;
    return limits.unauthenticated(request);
  }

  // Root scope: bodies are never read outside the promotion and approval routes (probes, 404s). Without a body
  // parser here, a JSON body sent to an unknown path would be parsed and could answer 400 or 413
  // instead of 404.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  await app.register(healthRoutes({ pipelines, releases, logLevel }));
  await app.register(
    promotionRoutes({
      config,
      pipelines,
      releases,
      metrics: installed,
      limits,
      ...(deps.controls === undefined ? {} : { badVersions: deps.badVersions ?? createBadVersions(deps.controls) }),
    }),
  );
  // One verifier, so approvals and stops share the issuer's cached keys.
  const tokens = config.oidc === undefined ? undefined : createOidcVerifier(config.oidc);
  await app.register(
    approvalRoutes({
      ...(tokens === undefined ? {} : { tokens }),
      config,
      pipelines,
      approvals,
      metrics: installed,
      limits,
      ...(deps.replays === undefined ? {} : { replays: deps.replays }),
    }),
  );

  if (deps.controls !== undefined) {
    await app.register(
      controlRoutes({
        controls: deps.controls,
        pipelines,
        ...(deps.rollbacks === undefined ? {} : { rollbacks: deps.rollbacks }),
        ...(tokens === undefined ? {} : { tokens }),
      }),
    );
  }

  app.setNotFoundHandler((request) => {
    throw new HttpError(
      404,
      request.url.startsWith('/promotion/')
        ? 'expected POST /promotion/{pipelineNamespace}/{pipelineName}/{sourceEnvironment}'
        : request.url.startsWith('/approval/')
          ? 'expected POST /approval/{pipelineNamespace}/{pipelineName}/{targetEnvironment}/{revision}'
          : request.url.startsWith('/rejection/')
            ? 'expected POST /rejection/{pipelineNamespace}/{pipelineName}/{targetEnvironment}/{revision}'
            : 'not found',
    );
  });

  return app;
}

/** 4xx answers other than 429 and the shutdown's 503: the refusals a client could repeat at will. */
function isCountedRefusal(error: FastifyError | HttpError): boolean {
  const code = error.statusCode;
  return typeof code === 'number' && code >= 400 && code < 500 && code !== 429;
}

/**
 * fastify's own answers to a URL it cannot route: malformed percent-encoding (400) and a path
 * parameter over `MAX_PARAM_LENGTH` (414). Its defaults quote the raw path and skip every hook; here
 * they are rate limited, logged, counted and answered like any other error, quoting nothing.
 */
function frameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
  limits: GatewayRateLimits,
  metrics: GatewayMetrics | undefined,
): void {
  request.rateCounted = true;
  const answer =
    limits.unauthenticated(request) ??
    (error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new HttpError(414, `a path segment is longer than ${MAX_PARAM_LENGTH} characters`)
      : error.code === 'FST_ERR_BAD_URL'
        ? new HttpError(400, 'the URL is malformed (invalid percent-encoding)')
        : new HttpError(500, 'internal error, please consult the gateway logs', { cause: error }));
  // No route, so no onResponse hook: count the answer here.
  reply.raw.once('finish', () => metrics?.countResponse(request, reply));
  errorHandler(answer, request, reply);
}
