/**
 * `tsx gateway/server.ts` (`npm run gateway`): the gateway on BATON_HOST:BATON_PORT. `startGateway`
 * is also what `scripts/start.ts` calls to run the gateway next to the worker in one process.
 *
 * The Temporal connection is lazy: the gateway boots, serves probes and answers 503 to events while
 * Temporal is down, and connects on the first call that needs it.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client, Connection, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { type Config, loadConfig } from '../config/config.js';
import { temporalConnectionOptions } from '../config/temporal-connection.js';
import { startTracing, type Tracing, tracingClientInterceptors } from '../config/tracing.js';
import { createPipelineSource } from '../pipelines/create-source.js';
import type { PipelineSource } from '../pipelines/source.js';
import { buildApp } from './app.js';
import { createTemporalPromotionControls, type PromotionControls } from './promotion-controls.js';
import { createTemporalRollbackStarter } from './rollback-starter.js';
import { createTemporalReleaseApprover, type ReleaseApprover } from './release-approver.js';
import { createTemporalReleaseStarter, type ReleaseStarter } from './release-starter.js';
import { GATEWAY_GRPC_RETRY } from './temporal-calls.js';

/** How long shutdown waits for Temporal calls that outlived their request (retries sleeping). */
const DRAIN_TIMEOUT_MS = 3000;

export interface GatewayOverrides {
  logger?: Logger;
  /** A source shared with the worker; the caller starts and stops it. */
  pipelines?: PipelineSource;
  /** A Temporal client shared with other components; the caller closes its connection. */
  client?: Client;
  releases?: ReleaseStarter;
  approvals?: ReleaseApprover;
  controls?: PromotionControls;
  /**
   * Tracing shared with other components; the caller shuts it down. A client passed in too should
   * carry its interceptors (`tracingClientInterceptors`), or the trace stops at the gateway.
   */
  tracing?: Tracing;
}

export interface RunningGateway {
  app: FastifyInstance;
  /** Where it listens, e.g. `http://127.0.0.1:8082`. */
  url: string;
  /**
   * Stops accepting connections, answers 503 to requests still arriving on open ones, waits for
   * in-flight requests, then releases what `startGateway` created (never what it was given).
   */
  close(): Promise<void>;
}

/** Starts the gateway. Whatever is not passed in is built from `config` and owned by the gateway. */
export async function startGateway(config: Config, overrides: GatewayOverrides = {}): Promise<RunningGateway> {
  const logger = overrides.logger ?? pino({ level: config.logLevel, name: 'baton-gateway' });
  const owned: { name: string; close: () => Promise<void> }[] = [];
  const release = async (): Promise<void> => {
    for (const { name, close } of owned.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        logger.error({ err: error }, `closing ${name} failed`);
      }
    }
  };

  try {
    let tracing = overrides.tracing;
    if (tracing === undefined && config.tracing !== undefined) {
      const started = await startTracing('baton-gateway', config.tracing);
      owned.push({ name: 'tracing', close: () => started.shutdown() });
      tracing = started;
    }

    let pipelines = overrides.pipelines;
    if (pipelines === undefined) {
      const source = await createPipelineSource(config.pipelines, logger);
      await source.start();
      owned.push({ name: 'the Pipeline source', close: () => source.stop() });
      pipelines = source;
    }

    // One lazy connection for whatever talks to Temporal and was not passed in.
    let client = overrides.client;
    const temporalClient = async (): Promise<Client> => {
      if (client === undefined) {
        const connection = Connection.lazy({
          ...(await temporalConnectionOptions(config.temporal)),
          interceptors: [makeGrpcRetryInterceptor(GATEWAY_GRPC_RETRY)],
        });
        owned.push({ name: 'the Temporal connection', close: () => connection.close() });
        client = new Client({
          connection,
          namespace: config.temporal.namespace,
          ...(tracing === undefined ? {} : { interceptors: await tracingClientInterceptors(tracing) }),
        });
      }
      return client;
    };

    let releases = overrides.releases;
    if (releases === undefined) {
      const starter = createTemporalReleaseStarter(await temporalClient(), {
        taskQueue: config.temporal.taskQueue,
        policy: config.releasePolicy,
        namespace: config.temporal.namespace,
        signalTimeoutMs: config.gateway.signalTimeoutMs,
      });
      // Closed after the HTTP server (LIFO) and before the connection.
      owned.push({ name: 'pending Temporal calls', close: () => starter.drain(DRAIN_TIMEOUT_MS) });
      releases = starter;
    }

    let approvals = overrides.approvals;
    if (approvals === undefined) {
      const approver = createTemporalReleaseApprover(await temporalClient(), {
        timeoutMs: config.gateway.signalTimeoutMs,
        ...(config.decisionKeys[0] === undefined ? {} : { decisionKey: config.decisionKeys[0] }),
      });
      if (config.decisionKeys.length === 0) {
        logger.warn(
          'BATON_DECISION_KEY is not set: approvals through this gateway count as sent through Temporal, ' +
            'and gates whose approval-channels leave out temporal refuse them',
        );
      }
      owned.push({ name: 'pending Temporal approvals', close: () => approver.drain(DRAIN_TIMEOUT_MS) });
      approvals = approver;
    }

    // Like the starter and the approver, built on Temporal unless every Temporal-facing part was given.
    const withoutTemporal = overrides.client === undefined && overrides.releases !== undefined && overrides.approvals !== undefined;
    const controls =
      overrides.controls ??
      (withoutTemporal ? undefined : createTemporalPromotionControls(await temporalClient(), { taskQueue: config.temporal.taskQueue }));
    const rollbacks =
      controls === undefined || withoutTemporal
        ? undefined
        : createTemporalRollbackStarter(await temporalClient(), {
            taskQueue: config.temporal.taskQueue,
            policy: config.releasePolicy,
            controls,
          });
    const app = await buildApp({
      ...(controls === undefined ? {} : { controls }),
      ...(rollbacks === undefined ? {} : { rollbacks }),
      // Only what the gateway shows; the API key and TLS paths stay out of the app.
      config: { ...config.gateway, temporal: { namespace: config.temporal.namespace, uiUrl: config.temporal.uiUrl } },
      pipelines,
      releases,
      approvals,
      logger,
      ...(tracing === undefined ? {} : { tracer: tracing.tracer }),
    });
    owned.push({ name: 'the HTTP server', close: () => app.close() });
    const address = await app.listen({ host: config.gateway.host, port: config.gateway.port });
    logger.info(
      { address, temporal: config.temporal.address, namespace: config.temporal.namespace, pipelines: config.pipelines.kind },
      `gateway listening on ${address}`,
    );

    let closed: Promise<void> | undefined;
    return { app, url: address, close: () => (closed ??= release()) };
  } catch (error) {
    await release();
    throw error;
  }
}

/**
 * Closes on SIGTERM/SIGINT (and on a crash) within `graceMs`, close-with-grace style: a second
 * signal, or a close that takes too long, exits at once.
 */
export function closeOnSignals(log: Logger, close: () => Promise<void>, options: { graceMs?: number } = {}): void {
  const graceMs = options.graceMs ?? 10_000;
  let shuttingDown = false;
  const shutdown = (reason: string, exitCode: number): void => {
    if (shuttingDown) {
      log.warn({ reason }, 'shutdown already in progress; exiting now');
      process.exit(1);
    }
    shuttingDown = true;
    log.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      log.error(`still shutting down after ${graceMs} ms; exiting`);
      process.exit(1);
    }, graceMs);
    timer.unref();
    close().then(
      () => process.exit(exitCode),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  process.on('SIGINT', () => shutdown('SIGINT', 0));
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'uncaught exception');
    shutdown('uncaughtException', 1);
  });
  process.on('unhandledRejection', (error) => {
    log.fatal({ err: error }, 'unhandled rejection');
    shutdown('unhandledRejection', 1);
  });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel, name: 'baton-gateway' });
  const gateway = await startGateway(config, { logger });
  closeOnSignals(logger, () => gateway.close());
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // The one top-level catch: configuration errors and failures to boot end here.
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? `baton gateway failed to start: ${error.stack ?? error.message}` : error);
    process.exit(1);
  });
}
