/**
 * The accept path of `POST /promotion/...`: signed fixture events → HMAC, validation, Pipeline
 * resolution, signal-with-start on a real Temporal dev server (with the worker running the
 * releases) → 202. Measured next to the same gateway whose release starter answers at once, which
 * is the HTTP layer's ceiling on this machine; the ratio is what Temporal costs.
 *
 * Scenarios: `new` (every request a new version, so a new workflow) and `duplicate` (the same event
 * again, so a signal to a running workflow), at 1, 8 and 32 connections; then a fixed 50 events/s.
 * Rate limiting is raised out of the way: it is not what is measured.
 * Env: BENCH_SECONDS (default 10) per run.
 */
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import autocannon from 'autocannon';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { loadConfig } from '../config/config.js';
import { buildApp } from '../gateway/app.js';
import { createTemporalReleaseApprover } from '../gateway/release-approver.js';
import { createTemporalReleaseStarter, type ReleaseStarter } from '../gateway/release-starter.js';
import { DirectoryPipelineSource } from '../pipelines/directory-source.js';
import { startWorkerProcess } from '../test/support/baton-processes.js';
import { startDevServer } from '../test/infra/temporal.js';

export const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const KEY = 'baton-example-hmac-key';
const PATH = '/promotion/flux-system/podinfo-02/dev';
const FIXTURE = readFileSync(new URL('../examples/events/helmrelease-upgrade-succeeded.json', import.meta.url), 'utf8');

function signedRequest(version: string): { body: string; headers: Record<string, string> } {
  const body = FIXTURE.replace('"revision":"6.7.1"', `"revision":"${version}"`);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'gotk-component': 'helm-controller',
      'x-signature': `sha256=${createHmac('sha256', KEY).update(body).digest('hex')}`,
    },
  };
}

/** A starter that takes nothing to Temporal: what the HTTP layer alone can do. */
const noTemporal: ReleaseStarter = {
  deliver: (d) => Promise.resolve({ workflowId: `release/flux-system/podinfo-02/${d.version}`, runId: 'none' }),
  deliverFailure: () => Promise.resolve(undefined),
  checkReachable: () => Promise.resolve(),
  drain: () => Promise.resolve(),
};

export interface Run {
  target: 'temporal' | 'no-temporal';
  scenario: 'new' | 'duplicate';
  connections: number;
  rate?: number;
}

let versionSeq = 0;

export async function measure(url: string, run: Run): Promise<Record<string, unknown>> {
  const runId = ++versionSeq;
  let i = 0;
  const result = await autocannon({
    url,
    connections: run.connections,
    duration: SECONDS,
    ...(run.rate === undefined ? {} : { overallRate: run.rate }),
    requests: [
      {
        method: 'POST',
        path: PATH,
        setupRequest: (request) => ({
          ...request,
          ...signedRequest(run.scenario === 'new' ? `9.${runId}.${i++}` : '6.7.1'),
        }),
      },
    ],
  });
  return {
    bench: 'webhook-accept',
    ...run,
    seconds: SECONDS,
    requests: result.requests.total,
    acceptedPerSecond: Math.round((result['2xx'] / result.duration) * 10) / 10,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  };
}

async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ host: '127.0.0.1', port: 0 });
}

export interface AcceptPaths {
  /** The gateway with Temporal's release starter, and the same gateway whose starter answers at once. */
  urls: Record<Run['target'], string>;
  close(): Promise<void>;
}

/**
 * The gateway's accept path on `temporal`, with the releases run by a worker process of their own,
 * as in production: its workflows and activities must not share the gateway's (and the load
 * generator's) event loop.
 */
export async function startAcceptPaths(temporal: TestWorkflowEnvironment): Promise<AcceptPaths> {
  const log = pino({ level: 'silent' });
  const config = loadConfig({
    TEMPORAL_ADDRESS: temporal.address,
    BATON_RATE_LIMIT_MAX: String(1e9),
    BATON_PIPELINES_DIR: 'examples/pipelines',
    LOG_LEVEL: 'silent',
  });
  const pipelines = new DirectoryPipelineSource(config.pipelines.kind === 'directory' ? config.pipelines.directory : '', log);
  await pipelines.start();
  const worker = await startWorkerProcess({ TEMPORAL_ADDRESS: temporal.address, BATON_PIPELINES_DIR: 'examples/pipelines' });

  const appConfig = { ...config.gateway, temporal: config.temporal };
  // Not measured here; the apps need one.
  const approvals = createTemporalReleaseApprover(temporal.client, { timeoutMs: config.gateway.signalTimeoutMs });
  const withTemporal = await buildApp({
    config: appConfig,
    pipelines,
    logger: log,
    releases: createTemporalReleaseStarter(temporal.client, {
      taskQueue: config.temporal.taskQueue,
      policy: config.releasePolicy,
      namespace: config.temporal.namespace,
      signalTimeoutMs: config.gateway.signalTimeoutMs,
    }),
    approvals,
  });
  const withoutTemporal = await buildApp({ config: appConfig, pipelines, logger: log, releases: noTemporal, approvals });
  return {
    urls: { temporal: await listen(withTemporal), 'no-temporal': await listen(withoutTemporal) },
    async close() {
      await withTemporal.close();
      await withoutTemporal.close();
      await worker.stop();
      await pipelines.stop();
    },
  };
}

export async function runWebhookAcceptBenchmark(): Promise<void> {
  const temporal = await startDevServer();
  const paths = await startAcceptPaths(temporal);
  const { urls } = paths;

  try {
    // The duplicate scenario signals one existing release.
    const warm = signedRequest('6.7.1');
    await fetch(`${urls.temporal}${PATH}`, { method: 'POST', headers: warm.headers, body: warm.body });

    const results: Record<string, unknown>[] = [];
    for (const scenario of ['new', 'duplicate'] as const) {
      for (const connections of [1, 8, 32]) {
        for (const target of ['no-temporal', 'temporal'] as const) {
          const figures = await measure(urls[target], { target, scenario, connections });
          results.push(figures);
          console.log(JSON.stringify(figures));
        }
      }
    }
    const steady = await measure(urls.temporal, { target: 'temporal', scenario: 'new', connections: 8, rate: 50 });
    console.log(JSON.stringify({ ...steady, goal: 'p99 <= 25 ms at 50 events/s' }));

    const rate = (target: string, scenario: string, connections: number): number =>
      (results.find((r) => r.target === target && r.scenario === scenario && r.connections === connections)?.acceptedPerSecond as
        number | undefined) ?? 0;
    const bestNew = Math.max(...[1, 8, 32].map((c) => rate('temporal', 'new', c)));
    console.log(
      JSON.stringify({
        bench: 'webhook-accept',
        summary: true,
        newPromotionsPerSecond: bestNew,
        goalNewPromotionsPerSecond: 200,
        ratioToHttpCeiling: Object.fromEntries(
          (['new', 'duplicate'] as const).flatMap((scenario) =>
            [1, 8, 32].map((c) => [
              `${scenario}@${c}`,
              Math.round((rate('temporal', scenario, c) / Math.max(rate('no-temporal', scenario, c), 1)) * 1000) / 1000,
            ]),
          ),
        ),
      }),
    );
  } finally {
    await paths.close();
    await temporal.teardown();
  }
}
