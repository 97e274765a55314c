/**
 * The promotion metrics interceptor around the promotion activities, run in an activity context
 * with the real interceptor chain, and read back the way Prometheus reads them: over HTTP from the
 * worker's metrics server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { pino } from 'pino';
import { promotionMetricsInterceptor } from '../../activities/metrics.js';
import type { PromotionBranchResult, PromotionRequest, PromotionResult } from '../../model/promotion.js';
import { startWorkerMetricsServer, type WorkerMetricsServer } from '../../worker/metrics.js';

const REQUEST: PromotionRequest = {
  pipeline: { namespace: 'team-a', name: 'api' },
  sourceEnvironment: 'dev',
  targetEnvironment: 'prod',
  version: '1.2.3',
  workflowId: 'release/team-a/api/1.2.3',
};

void describe('promotion metrics', () => {
  let server: WorkerMetricsServer;
  before(async () => {
    server = await startWorkerMetricsServer({ port: 0, log: pino({ level: 'silent' }) });
  });
  after(() => server.close());

  /** Runs `fn` as the activity `activityType` with the metrics interceptor installed. */
  function run<R>(activityType: string, fn: (request: PromotionRequest) => Promise<R>): Promise<R> {
    const env = new MockActivityEnvironment(
      { activityType },
      {
        interceptors: [promotionMetricsInterceptor(server.promotions)],
        // The failing attempts below are expected: no warning per attempt.
        logger: new DefaultLogger('ERROR'),
      },
    );
    return env.run(fn, REQUEST);
  }

  async function scrape(): Promise<string> {
    const response = await fetch(server.url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    return response.text();
  }

  /** The value of one sample line, e.g. `name{a="b"}`; 0 when absent. */
  function sample(text: string, series: string): number {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  }

  test('counts promotions by pipeline, environment, strategy and outcome; times the git and provider steps', async () => {
    const notified: PromotionResult = { outcome: 'notified' };
    const pushed: PromotionBranchResult = { status: 'pushed', branch: 'promotion/prod', commit: 'abc', baseBranch: 'main' };
    const unchanged: PromotionBranchResult = { status: 'already-at-version', outcome: 'prod already runs 1.2.3' };
    await run('promoteByNotification', () => Promise.resolve(notified));
    await assert.rejects(
      run('promoteByNotification', () => Promise.reject(new Error('notifier down'))),
      /notifier down/,
    );
    await run('pushPromotionBranch', () => Promise.resolve(pushed));
    await run('pushPromotionBranch', () => Promise.resolve(unchanged));
    await assert.rejects(run('pushPromotionBranch', () => Promise.reject(new Error('push refused'))));
    await run('openPullRequest', () => Promise.resolve({ outcome: 'opened', pullRequest: { url: 'https://x/1', number: 1 } }));
    // Other activities are not promotions and pass through uncounted.
    await run('resolvePipeline', () => Promise.resolve('resolved'));

    const text = await scrape();
    const labels = 'pipeline="team-a/api",environment="prod"';
    assert.equal(sample(text, `baton_promotions_total{${labels},strategy="notification",outcome="succeeded"}`), 1);
    assert.equal(sample(text, `baton_promotions_total{${labels},strategy="notification",outcome="failed"}`), 1);
    assert.equal(sample(text, `baton_promotions_total{${labels},strategy="pull-request",outcome="unchanged"}`), 1);
    assert.equal(sample(text, `baton_promotions_total{${labels},strategy="pull-request",outcome="failed"}`), 1);
    assert.equal(sample(text, `baton_promotions_total{${labels},strategy="pull-request",outcome="succeeded"}`), 1);
    assert.equal(
      text.split('\n').filter((l) => l.startsWith('baton_promotions_total{')).length,
      5,
      'a pushed branch alone is no promotion yet',
    );
    for (const outcome of ['pushed', 'unchanged', 'failed']) {
      assert.equal(sample(text, `baton_git_step_duration_seconds_count{${labels},outcome="${outcome}"}`), 1, outcome);
    }
    assert.equal(sample(text, `baton_pull_request_duration_seconds_count{${labels},outcome="succeeded"}`), 1);
    assert.equal(sample(text, `baton_pull_request_duration_seconds_bucket{le="+Inf",${labels},outcome="succeeded"}`), 1);
    assert.match(text, /^process_resident_memory_bytes \d+/m, 'process metrics too');
  });

  test('answers 404 off /metrics', async () => {
    assert.equal((await fetch(new URL('/other', server.url))).status, 404);
  });
});
