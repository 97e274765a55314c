/** `npm run worker`: runs the release worker until SIGINT/SIGTERM (the Temporal runtime handles both). */
import { Client } from '@temporalio/client';
import { pino } from 'pino';
import { loadConfig } from '../config/config.js';
import { startTracing, tracesUrl } from '../config/tracing.js';
import { redactUrl } from '../activities/http/redact-url.js';
import { promotionMetricsInterceptor } from '../activities/metrics.js';
import { createPipelineSource } from '../pipelines/create-source.js';
import { activityDependencies, startStatusController } from './dependencies.js';
import { installSdkMetrics, startWorkerMetricsServer } from './metrics.js';
import { startTrainScheduler } from './train-schedules.js';
import { createReleaseWorker } from './worker.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel, name: 'baton-worker' });
  // Before any Temporal connection: the SDK's metrics exporter is part of the runtime it installs.
  const metrics =
    config.worker.metricsPort === 0
      ? undefined
      : await startWorkerMetricsServer({ port: config.worker.metricsPort, sdkMetricsUrl: await installSdkMetrics(), log });
  const tracing = config.tracing === undefined ? undefined : await startTracing('baton-worker', config.tracing);
  const pipelines = await createPipelineSource(config.pipelines, log);
  await pipelines.start();
  const stopStatusController = await startStatusController(config, log);
  const { worker, connection } = await createReleaseWorker(config.temporal, await activityDependencies(config, pipelines, log), log, {
    activityInterceptors: metrics === undefined ? [] : [promotionMetricsInterceptor(metrics.promotions)],
    ...(tracing === undefined ? {} : { tracing }),
  });
  // The release trains' Schedules follow the Pipelines this worker sees.
  const trains = startTrainScheduler({
    client: new Client({ connection, namespace: config.temporal.namespace }),
    pipelines: () => pipelines.listPipelines(),
    taskQueue: config.temporal.taskQueue,
    log,
  });
  log.info(
    {
      taskQueue: config.temporal.taskQueue,
      providerTaskQueue: config.temporal.providerTaskQueue,
      namespace: config.temporal.namespace,
      metrics: metrics?.url,
      tracing: config.tracing === undefined ? undefined : redactUrl(tracesUrl(config.tracing.endpoint)),
    },
    'worker running',
  );
  try {
    await worker.run();
  } finally {
    await trains.stop();
    await connection.close();
    await stopStatusController();
    await pipelines.stop();
    await metrics?.close();
    // Last: the spans of everything above, flushed.
    await tracing?.shutdown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
