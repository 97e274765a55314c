/**
 * How close the gateway's accept path comes to what Temporal itself can take, on the dev server
 * and on a production server on PostgreSQL (fsync on, as a real cluster runs it). On each, in the
 * same run: the bare ceiling — `signalWithStart` of a new workflow straight from a client, no
 * worker, at 1, 8 and 32 calls in flight — then Baton's gateway (signed event → 202, a new version
 * each time, the releases run by a worker process) at 1, 8 and 32 connections; the ratio is the
 * share of Temporal's ceiling Baton's accept path reaches.
 * Env: BENCH_SECONDS (default 10) per run.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startDevServer } from '../test/infra/temporal.js';
import { startPostgresServer } from '../test/infra/temporal-postgres.js';
import { measure, SECONDS, startAcceptPaths } from './webhook-accept.js';

const CONCURRENCY = [1, 8, 32] as const;
/** Nothing polls it: the workflows are started and signalled, never run. */
const NO_WORKER_QUEUE = 'bench-no-worker';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 10) / 10;
}

/** `inFlight` callers each doing signalWithStart of a new workflow back to back for SECONDS. */
async function bareCeiling(
  temporal: TestWorkflowEnvironment,
  inFlight: number,
): Promise<{ perSecond: number; latencyMs: object; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await temporal.client.workflow.signalWithStart('release', {
            workflowId: `bench/${randomUUID()}`,
            taskQueue: NO_WORKER_QUEUE,
            args: [],
            signal: 'deployed',
            signalArgs: [{}],
          });
          latencies.push(performance.now() - t);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: Math.round((latencies.length / seconds) * 10) / 10,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
    errors,
  };
}

async function onServer(server: string, temporal: TestWorkflowEnvironment): Promise<void> {
  const bare: Record<number, number> = {};
  for (const inFlight of CONCURRENCY) {
    const figures = await bareCeiling(temporal, inFlight);
    bare[inFlight] = figures.perSecond;
    console.log(
      JSON.stringify({
        bench: 'temporal-ceiling',
        server,
        path: 'bare signalWithStart',
        connections: inFlight,
        seconds: SECONDS,
        ...figures,
      }),
    );
  }
  const paths = await startAcceptPaths(temporal);
  const gateway: Record<number, number> = {};
  try {
    for (const connections of CONCURRENCY) {
      const figures = await measure(paths.urls.temporal, { target: 'temporal', scenario: 'new', connections });
      gateway[connections] = figures.acceptedPerSecond as number;
      console.log(JSON.stringify({ ...figures, bench: 'temporal-ceiling', server, path: 'gateway accept' }));
    }
  } finally {
    await paths.close();
  }
  console.log(
    JSON.stringify({
      bench: 'temporal-ceiling',
      server,
      summary: true,
      barePerSecond: bare,
      gatewayPerSecond: gateway,
      gatewayToBare: Object.fromEntries(CONCURRENCY.map((c) => [c, Math.round((gateway[c]! / Math.max(bare[c]!, 1)) * 1000) / 1000])),
    }),
  );
}

export async function runTemporalCeilingBenchmark(): Promise<void> {
  const servers: [string, () => Promise<TestWorkflowEnvironment>][] = [
    ['dev server', () => startDevServer()],
    ['PostgreSQL', () => startPostgresServer({ fsync: true })],
  ];
  for (const [server, start] of servers) {
    const temporal = await start();
    try {
      await onServer(server, temporal);
    } finally {
      await temporal.teardown();
    }
  }
}
