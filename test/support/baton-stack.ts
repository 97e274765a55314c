/**
 * Baton as `npm start` runs it — worker and gateway in one process over the example Pipelines (their
 * change windows open at all hours, example-pipelines.ts says why, and their verification checking
 * this stack's gateway) — on a Temporal server a test started, for the integration tests.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { loadConfig } from '../../config/config.js';
import { type RunningGateway, startGateway } from '../../gateway/server.js';
import { createPipelineSource } from '../../pipelines/create-source.js';
import type { PipelineSource } from '../../pipelines/source.js';
import { activityDependencies } from '../../worker/dependencies.js';
import { createReleaseWorker } from '../../worker/worker.js';
import { examplePipelinesWithOpenWindows } from './example-pipelines.js';
import { freePort } from './free-port.js';

export interface BatonStack {
  gateway: RunningGateway;
  pipelines: PipelineSource;
  stop(): Promise<void>;
}

/** `manifests`: more Pipelines and Secrets (YAML) served beside the examples. */
export async function startBatonStack(
  temporal: TestWorkflowEnvironment,
  env: Record<string, string> = {},
  options: { manifests?: string } = {},
): Promise<BatonStack> {
  const log = pino({ level: 'silent' });
  const port = env.BATON_PORT ?? String(await freePort());
  const examples = await examplePipelinesWithOpenWindows(`http://127.0.0.1:${port}`);
  if (options.manifests !== undefined) await writeFile(join(examples.path, 'more.yaml'), options.manifests);
  const config = loadConfig({
    TEMPORAL_ADDRESS: temporal.address,
    BATON_HOST: '127.0.0.1',
    BATON_PORT: port,
    BATON_PIPELINES_DIR: examples.path,
    LOG_LEVEL: 'silent',
    // As npm start does: gateway and worker share a decision key.
    BATON_DECISION_KEY: randomBytes(32).toString('base64url'),
    ...env,
  });
  const pipelines = await createPipelineSource(config.pipelines, log);
  await pipelines.start();
  const { worker, connection } = await createReleaseWorker(config.temporal, await activityDependencies(config, pipelines, log), log);
  const running = worker.run();
  const gateway = await startGateway(config, { logger: log, pipelines, client: temporal.client });
  return {
    gateway,
    pipelines,
    async stop() {
      await gateway.close();
      worker.shutdown();
      await running;
      await connection.close();
      await pipelines.stop();
      await examples.remove();
    },
  };
}
