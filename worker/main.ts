/** `npm run worker`: runs the release worker until SIGINT/SIGTERM (the Temporal runtime handles both). */
import { pino } from 'pino';
import { loadConfig } from '../config/config.js';
import { createPipelineSource } from '../pipelines/create-source.js';
import { activityDependencies, startStatusController } from './dependencies.js';
import { createReleaseWorker } from './worker.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel, name: 'baton-worker' });
  const pipelines = await createPipelineSource(config.pipelines, log);
  await pipelines.start();
  const stopStatusController = await startStatusController(config, log);
  const { worker, connection } = await createReleaseWorker(config.temporal, await activityDependencies(config, pipelines, log), log);
  log.info(
    { taskQueue: config.temporal.taskQueue, providerTaskQueue: config.temporal.providerTaskQueue, namespace: config.temporal.namespace },
    'worker running',
  );
  try {
    await worker.run();
  } finally {
    await connection.close();
    await stopStatusController();
    await pipelines.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
