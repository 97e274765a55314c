/**
 * The gateway's plugin tree. `buildApp` never listens: `server.ts` does, and tests use `inject()`.
 *
 * Order of the root hooks matters, because it is the order of the answers (routes/promotion.ts has
 * the whole list): the shutdown 503 first, then the per-client rate limit, which also covers 404s
 * (through the not-found handler) and 405s, but not the probes and `/metrics`. `/promotion` and
 * `/approval` (routes/approval.ts) draw from the same per-client bucket.
 */
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type LogLevel } from 'fastify';
import type { GatewayConfig, TemporalConfig } from '../config/config.js';
import type { PipelineSource } from '../pipelines/source.js';
import { rateLimitKey, trustProxyOption } from './client-ip.js';
import { errorHandler, HttpError } from './errors.js';
import { installMetrics, type MetricsOptions } from './plugins/metrics.js';
import type { ReleaseApprover } from './release-approver.js';
import type { ReleaseStarter } from './release-starter.js';
import type { ReplayCache } from './replay-cache.js';
import { approvalRoutes } from './routes/approval.js';
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
  logger: FastifyBaseLogger;
  /** Signatures of approvals already used (default: one cache per app). */
  replays?: ReplayCache;
  metrics?: MetricsOptions;
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
  const app = Fastify({
    loggerInstance: deps.logger,
    trustProxy: trustProxyOption(config.trustedProxies),
    bodyLimit: MAX_EVENT_BYTES,
    // Our own onRequest hook answers 503 while closing, with `Retry-After`.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    ...serverTimeouts(config),
  });
  app.setErrorHandler(errorHandler);

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

  const logLevel = pollingLogLevel(deps.logger.level);
  const metrics = installMetrics(app, { ...deps.metrics, logLevel });

  // One bucket per client for every rate-limited route (they share the plugin's store): 20 calls
  // to unknown paths use up the same allowance as 20 webhooks.
  await app.register(rateLimit, {
    global: true,
    max: config.rateLimit.max,
    timeWindow: config.rateLimit.windowMs,
    keyGenerator: (request) => rateLimitKey(request.ip),
    onExceeded: () => metrics.rateLimited.inc(),
  });

  // Root scope: bodies are never read outside the promotion and approval routes (probes, 404s). Without a body
  // parser here, a JSON body sent to an unknown path would be parsed and could answer 400 or 413
  // instead of 404.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  await app.register(healthRoutes({ pipelines, releases, logLevel }));
  await app.register(promotionRoutes({ config, pipelines, releases, metrics }));
  await app.register(
    approvalRoutes({ config, pipelines, approvals, metrics, ...(deps.replays === undefined ? {} : { replays: deps.replays }) }),
  );

  app.setNotFoundHandler({ preHandler: app.rateLimit() }, (request) => {
    throw new HttpError(
      404,
      request.url.startsWith('/promotion/')
        ? 'expected POST /promotion/{pipelineNamespace}/{pipelineName}/{sourceEnvironment}'
        : request.url.startsWith('/approval/')
          ? 'expected POST /approval/{pipelineNamespace}/{pipelineName}/{targetEnvironment}/{revision}'
          : 'not found',
    );
  });

  return app;
}
