/**
 * Prometheus metrics of the gateway, on a registry of its own per app (never prom-client's global
 * one), so a process or a test can build several apps without "metric already registered".
 *
 * Installed on the root instance rather than registered as an encapsulated plugin: its hooks must
 * see every route, the 404 handler included, and the routes receive the metric objects they count
 * with as an explicit dependency.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, LogLevel } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export interface GatewayMetrics {
  readonly registry: Registry;
  /** `reason`: one of `SignatureFailure`, or `unsigned` / `no-key` (Pipeline or Secret without a key). */
  readonly signatureFailures: Counter<'reason'>;
  /** `cause`: `severity` (not an info event) or `reason` (not a successful deployment). */
  readonly ignoredEvents: Counter<'cause'>;
  readonly rateLimited: Counter;
  /** `outcome`: `started` (or signalled), `already-completed`, `unavailable`, `refused` (over a Temporal limit), `error`. */
  readonly signalWithStart: Histogram<'outcome'>;
  /**
   * Requests to the approval endpoint that got past routing, by `outcome`: `approved`, `refused`
   * (422: nothing matching waits), `unauthorized` (401), `replayed` (401, signature seen before),
   * `invalid` (400/415/422 for bad input), `unavailable` (503), `error` (500).
   */
  readonly approvals: Counter<'outcome'>;
  /** Counts an answer in `baton_gateway_http_requests_total` (done by a hook for every routed request). */
  countResponse(request: FastifyRequest, reply: FastifyReply): void;
}

export interface MetricsOptions {
  /** Process and Node.js runtime metrics (default true). */
  defaultMetrics?: boolean;
  /** Log level of the `/metrics` route (default `warn`: scrapes do not fill the log). */
  logLevel?: LogLevel;
}

/** Label for requests no route matched: bounded cardinality, whatever paths scanners try. */
const UNMATCHED_ROUTE = 'unmatched';

export function installMetrics(app: FastifyInstance, options: MetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'baton_gateway_http_requests_total',
    help: 'HTTP requests answered by the gateway, by route template, method and status code',
    labelNames: ['route', 'method', 'status_code'] as const,
    registers: [registry],
  });
  const metrics: GatewayMetrics = {
    registry,
    signatureFailures: new Counter({
      name: 'baton_gateway_signature_failures_total',
      help: 'Promotion webhooks refused with 401, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    ignoredEvents: new Counter({
      name: 'baton_gateway_ignored_events_total',
      help: 'Verified Flux events acknowledged without promoting (failed upgrades, other reasons)',
      labelNames: ['cause'] as const,
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'baton_gateway_rate_limited_requests_total',
      help: 'Requests answered 429 by the per-client rate limit',
      registers: [registry],
    }),
    signalWithStart: new Histogram({
      name: 'baton_gateway_signal_with_start_duration_seconds',
      help: 'Time to make an accepted event durable in Temporal (signal-with-start), by outcome',
      labelNames: ['outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    approvals: new Counter({
      name: 'baton_gateway_approvals_total',
      help: 'Requests to the approval endpoint, by outcome (approved, rejected, refused, unauthorized, replayed, invalid, unavailable, error)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    countResponse(request, reply) {
      requests.inc({
        route: request.routeOptions.url ?? UNMATCHED_ROUTE,
        method: request.method,
        status_code: String(reply.statusCode),
      });
    },
  };

  app.addHook('onResponse', async (request, reply) => metrics.countResponse(request, reply));

  app.get('/metrics', { config: { rateLimit: false, trace: false }, logLevel: options.logLevel ?? 'warn' }, async (_request, reply) => {
    void reply.type(registry.contentType);
    return registry.metrics();
  });

  return metrics;
}
