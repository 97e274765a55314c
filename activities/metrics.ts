/**
 * Baton's own worker metrics (prom-client), counted around the promotion activities by an activity
 * interceptor, so the activities stay free of metric code and every worker-side promotion is
 * counted however it is scheduled. On a registry of its own (never prom-client's global one), so a
 * process or a test can make several.
 *
 * Counted per activity attempt: an attempt that fails and is retried by Temporal counts as
 * `failed`, and its retry counts again.
 */
import type { ActivityExecuteInput, ActivityInterceptorsFactory, Next, ActivityInboundCallsInterceptor } from '@temporalio/worker';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { PromotionBranchResult, PromotionRequest } from '../model/promotion.js';

/** Git steps take seconds (clone, commit, push); provider calls a fraction of one to a few. */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export interface PromotionMetrics {
  /** `outcome`: `succeeded`, `unchanged` (the environment already had the version) or `failed`. */
  readonly promotions: Counter<'pipeline' | 'environment' | 'strategy' | 'outcome'>;
  /** The pull-request strategy's git step; `outcome`: `pushed`, `unchanged` or `failed`. */
  readonly gitStepDuration: Histogram<'pipeline' | 'environment' | 'outcome'>;
  /** The pull-request strategy's provider step (find or open the pull request); `outcome`: `succeeded` or `failed`. */
  readonly pullRequestDuration: Histogram<'pipeline' | 'environment' | 'outcome'>;
}

export function createPromotionMetrics(registry: Registry): PromotionMetrics {
  return {
    promotions: new Counter({
      name: 'baton_promotions_total',
      help: 'Promotion attempts run by this worker, by Pipeline (namespace/name), target environment, strategy and outcome',
      labelNames: ['pipeline', 'environment', 'strategy', 'outcome'] as const,
      registers: [registry],
    }),
    gitStepDuration: new Histogram({
      name: 'baton_git_step_duration_seconds',
      help: "Duration of the pull-request strategy's git step (fetch, commit, push of the promotion branch)",
      labelNames: ['pipeline', 'environment', 'outcome'] as const,
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    pullRequestDuration: new Histogram({
      name: 'baton_pull_request_duration_seconds',
      help: "Duration of the pull-request strategy's provider step (find or open the pull request)",
      labelNames: ['pipeline', 'environment', 'outcome'] as const,
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
  };
}

function labelsOf(input: ActivityExecuteInput): { pipeline: string; environment: string } | undefined {
  const request = input.args[0] as Partial<PromotionRequest> | undefined;
  if (request?.pipeline === undefined || request.targetEnvironment === undefined) return undefined;
  return { pipeline: `${request.pipeline.namespace}/${request.pipeline.name}`, environment: request.targetEnvironment };
}

type Execute = Next<ActivityInboundCallsInterceptor, 'execute'>;

/** Runs `next`, then records what it took and how it ended via `record` (also on failure, then rethrows). */
async function measured(
  input: ActivityExecuteInput,
  next: Execute,
  record: (seconds: number, result: { ok: true; value: unknown } | { ok: false }) => void,
): Promise<unknown> {
  const started = performance.now();
  try {
    const value = await next(input);
    record((performance.now() - started) / 1000, { ok: true, value });
    return value;
  } catch (error) {
    record((performance.now() - started) / 1000, { ok: false });
    throw error;
  }
}

/** The activity interceptor counting promotions; other activities pass through untouched. */
export function promotionMetricsInterceptor(metrics: PromotionMetrics): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      execute(input, next) {
        const labels = labelsOf(input);
        if (labels === undefined) return next(input);
        switch (ctx.info.activityType) {
          case 'promoteByNotification':
            return measured(input, next, (_seconds, result) =>
              metrics.promotions.inc({ ...labels, strategy: 'notification', outcome: result.ok ? 'succeeded' : 'failed' }),
            );
          case 'pushPromotionBranch':
            return measured(input, next, (seconds, result) => {
              const status = result.ok ? (result.value as PromotionBranchResult).status : undefined;
              const outcome = status === undefined ? 'failed' : status === 'pushed' ? 'pushed' : 'unchanged';
              metrics.gitStepDuration.observe({ ...labels, outcome }, seconds);
              // A pushed branch is not yet a promotion: the provider step ends it. The others do here.
              if (outcome !== 'pushed') metrics.promotions.inc({ ...labels, strategy: 'pull-request', outcome });
            });
          case 'openPullRequest':
            return measured(input, next, (seconds, result) => {
              const outcome = result.ok ? 'succeeded' : 'failed';
              metrics.pullRequestDuration.observe({ ...labels, outcome }, seconds);
              metrics.promotions.inc({ ...labels, strategy: 'pull-request', outcome });
            });
          default:
            return next(input);
        }
      },
    },
  });
}
