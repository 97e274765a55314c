/**
 * The worker's Prometheus endpoint: one `/metrics` holding Baton's own metrics (prom-client: the
 * promotion counters and durations of activities/metrics.ts, and process metrics) followed by the
 * Temporal SDK's worker metrics (pollers, task latencies, slots, activity outcomes).
 *
 * The SDK's exporter is native code that can only serve on an address of its own, so it listens on
 * a loopback port nobody scrapes and this endpoint appends what it serves: one port to expose, one
 * scrape target per pod, and nothing reachable from outside the pod but this server.
 */
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createPromotionMetrics, type PromotionMetrics } from '../activities/metrics.js';

export interface WorkerMetricsServer {
  readonly registry: Registry;
  readonly promotions: PromotionMetrics;
  /** e.g. `http://[::]:9464/metrics`, or with the port the system chose for port 0. */
  readonly url: string;
  close(): Promise<void>;
}

/** How long a scrape waits for the SDK's exporter before answering with Baton's metrics alone. */
const SDK_SCRAPE_TIMEOUT_MS = 2_000;

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createTcpServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/**
 * Installs the Temporal runtime with its Prometheus exporter on a free loopback port and returns
 * the exporter's URL. Must run before the process's first Temporal connection, which would
 * otherwise install a runtime without metrics.
 */
export async function installSdkMetrics(): Promise<string> {
  const port = await freeLoopbackPort();
  Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${port}` } } } });
  return `http://127.0.0.1:${port}/metrics`;
}

export async function startWorkerMetricsServer(options: {
  port: number;
  sdkMetricsUrl?: string;
  log: Logger;
}): Promise<WorkerMetricsServer> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const promotions = createPromotionMetrics(registry);

  const sdkMetrics = async (): Promise<string> => {
    if (options.sdkMetricsUrl === undefined) return '';
    try {
      const response = await fetch(options.sdkMetricsUrl, { signal: AbortSignal.timeout(SDK_SCRAPE_TIMEOUT_MS) });
      return response.ok ? await response.text() : '';
    } catch (error) {
      options.log.warn({ err: error }, 'the Temporal SDK metrics exporter did not answer; serving Baton metrics only');
      return '';
    }
  };

  const server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    void Promise.all([registry.metrics(), sdkMetrics()]).then(
      ([baton, sdk]) => {
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(sdk === '' ? baton : `${baton}\n${sdk}`);
      },
      (error: unknown) => {
        options.log.error({ err: error }, 'collecting metrics failed');
        response.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // No host: every interface, IPv6 and IPv4 alike, as a pod's scrape target needs.
    server.listen(options.port, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    registry,
    promotions,
    url: `http://127.0.0.1:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
