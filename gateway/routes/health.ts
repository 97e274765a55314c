/**
 * Probes. `/healthz` (liveness) says the process serves HTTP; `/readyz` (readiness) says an event
 * sent now would be handled: Temporal answers, and the Pipeline source has synced. Neither is rate
 * limited: kubelets and load balancers poll them from a handful of addresses.
 */
import type { FastifyInstance, LogLevel } from 'fastify';
import type { PipelineSource } from '../../pipelines/source.js';
import type { ReleaseStarter } from '../release-starter.js';

export interface HealthRouteDeps {
  pipelines: PipelineSource;
  releases: ReleaseStarter;
  /** How long `/readyz` waits for Temporal (default 2 s). */
  temporalTimeoutMs?: number;
  /** Log level of the probe routes (default `warn`: probes do not fill the log). */
  logLevel?: LogLevel;
}

type CheckResult = 'ok' | 'unavailable' | 'not synced';

const readinessSchema = {
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string' },
    checks: {
      type: 'object',
      properties: { temporal: { type: 'string' }, pipelines: { type: 'string' } },
    },
  },
} as const;

export function healthRoutes(deps: HealthRouteDeps) {
  const temporalTimeoutMs = deps.temporalTimeoutMs ?? 2000;
  const logLevel = deps.logLevel ?? 'warn';

  return function register(app: FastifyInstance): Promise<void> {
    app.get(
      '/healthz',
      {
        config: { rateLimit: false, trace: false },
        logLevel,
        schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } },
      },
      (_request, reply) => reply.send({ status: 'ok' }),
    );

    app.get(
      '/readyz',
      { config: { rateLimit: false, trace: false }, logLevel, schema: { response: { 200: readinessSchema, 503: readinessSchema } } },
      async (request, reply) => {
        let temporal: CheckResult = 'ok';
        try {
          await deps.releases.checkReachable(temporalTimeoutMs);
        } catch (error) {
          request.log.warn({ err: error }, 'readiness: Temporal is not reachable');
          temporal = 'unavailable';
        }
        const pipelines: CheckResult = deps.pipelines.isSynced() ? 'ok' : 'not synced';
        const ready = temporal === 'ok' && pipelines === 'ok';
        void reply.code(ready ? 200 : 503);
        return { status: ready ? 'ready' : 'not ready', checks: { temporal, pipelines } };
      },
    );
    return Promise.resolve();
  };
}
