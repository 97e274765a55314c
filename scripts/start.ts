/**
 * `npm start`: Baton on its embedded defaults, in one process. Without TEMPORAL_ADDRESS it starts a
 * local Temporal dev server (Web UI on :8233); then the worker and the gateway (127.0.0.1:8082
 * unless BATON_HOST is set), serving the Pipelines of examples/pipelines. With TEMPORAL_ADDRESS it
 * uses that cluster instead.
 */
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { pino } from 'pino';
import { loadConfig } from '../config/config.js';
import { temporalConnectionOptions } from '../config/temporal-connection.js';
import { startTracing, tracingClientInterceptors } from '../config/tracing.js';
import { closeOnSignals, startGateway } from '../gateway/server.js';
import { createPipelineSource } from '../pipelines/create-source.js';
import { activityDependencies, startStatusController } from '../worker/dependencies.js';
import { startTrainScheduler } from '../worker/train-schedules.js';
import { createReleaseWorker } from '../worker/worker.js';
import { cacheDir, startDevServer } from './dev-server.js';
import { startEnvironment } from './start-env.js';
import { welcome } from './welcome.js';

/** Things to close, in reverse order of opening: gateway first, dev server last. */
const cleanups: (() => Promise<void>)[] = [];
async function closeAll(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

async function main(): Promise<void> {
  const embedded = !process.env.TEMPORAL_ADDRESS;
  const log = pino({ level: process.env.LOG_LEVEL ?? 'info', name: 'baton' });
  // The shutdown order above is ours; the Temporal runtime must not race it on SIGINT.
  Runtime.install({ shutdownSignals: [], logger: new DefaultLogger('WARN') });
  closeOnSignals(log, closeAll);

  const env = startEnvironment(process.env);
  if (embedded) {
    const devServer = await startDevServer({
      port: 7233,
      uiPort: 8233,
      dbFile: join(cacheDir(), 'dev-server', 'temporal.db'),
    });
    cleanups.push(() => devServer.stop());
    env.TEMPORAL_ADDRESS = devServer.address;
    env.TEMPORAL_UI_URL ??= devServer.uiUrl;
  }
  const config = loadConfig(env);

  // With OTEL_EXPORTER_OTLP_ENDPOINT: each component traces under its own service name.
  const tracing =
    config.tracing === undefined
      ? undefined
      : { worker: await startTracing('baton-worker', config.tracing), gateway: await startTracing('baton-gateway', config.tracing) };
  if (tracing !== undefined)
    cleanups.push(() => Promise.all([tracing.worker.shutdown(), tracing.gateway.shutdown()]).then(() => undefined));

  const pipelines = await createPipelineSource(config.pipelines, log);
  await pipelines.start();
  cleanups.push(() => pipelines.stop());
  cleanups.push(await startStatusController(config, log));

  const { worker, connection: workerConnection } = await createReleaseWorker(
    config.temporal,
    await activityDependencies(config, pipelines, log),
    log,
    tracing === undefined ? {} : { tracing: tracing.worker },
  );
  cleanups.push(() => workerConnection.close());
  const running = worker.run();
  cleanups.push(async () => {
    worker.shutdown();
    await running;
  });

  const connection = await Connection.connect(await temporalConnectionOptions(config.temporal));
  cleanups.push(() => connection.close());
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    ...(tracing === undefined ? {} : { interceptors: await tracingClientInterceptors(tracing.gateway) }),
  });
  const trains = startTrainScheduler({ client, pipelines: () => pipelines.listPipelines(), taskQueue: config.temporal.taskQueue, log });
  cleanups.push(() => trains.stop());
  const gateway = await startGateway(config, {
    logger: log,
    pipelines,
    client,
    ...(tracing === undefined ? {} : { tracing: tracing.gateway }),
  });
  cleanups.push(() => gateway.close());

  console.log(welcome({ config, gatewayUrl: gateway.url, embedded }));
  await running;
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  await closeAll().catch(() => undefined);
  process.exit(1);
});
