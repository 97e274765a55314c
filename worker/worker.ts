/**
 * The Baton worker: release workflows and their activities on the release task queue, and the git
 * provider API calls on the provider task queue, whose activity rate the Temporal server limits
 * across every replica (`maxTaskQueueActivitiesPerSecond`), so all of them together stay within the
 * provider's quota.
 */
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { type ActivityDependencies, createActivities, createProviderActivities } from '../activities/index.js';
import type { TemporalConfig } from '../config/config.js';
import { temporalConnectionOptions } from '../config/temporal-connection.js';
import { ensureSearchAttributes } from './search-attributes.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Both workers as one: `run()` until either stops, `shutdown()` stops both. */
export interface WorkerGroup {
  run(): Promise<void>;
  shutdown(): void;
}

export interface ReleaseWorker {
  worker: WorkerGroup;
  releaseWorker: Worker;
  providerWorker: Worker;
  connection: NativeConnection;
}

export function workerGroup(workers: readonly Worker[]): WorkerGroup {
  const shutdown = (): void => {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  return {
    async run() {
      const runs = workers.map((worker) => worker.run());
      try {
        await Promise.race(runs);
      } finally {
        // One worker stopping (shutdown or failure) stops the other: a half-served deployment helps nobody.
        shutdown();
        const results = await Promise.allSettled(runs);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed !== undefined) throw failed.reason;
      }
    },
    shutdown,
  };
}

export async function createReleaseWorker(
  temporal: TemporalConfig,
  deps: Omit<ActivityDependencies, 'temporal'>,
  log: Logger,
): Promise<ReleaseWorker> {
  const connection = await NativeConnection.connect(await temporalConnectionOptions(temporal));
  try {
    const registered = await ensureSearchAttributes(connection, temporal.namespace);
    if (registered.length > 0) log.info({ registered }, 'registered search attributes');
    const releaseWorker = await Worker.create({
      connection,
      namespace: temporal.namespace,
      taskQueue: temporal.taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: createActivities({ ...deps, temporal: new Client({ connection, namespace: temporal.namespace }) }),
    });
    const providerWorker = await Worker.create({
      connection,
      namespace: temporal.namespace,
      taskQueue: temporal.providerTaskQueue,
      activities: createProviderActivities(deps),
      maxTaskQueueActivitiesPerSecond: temporal.providerRateLimit,
    });
    return { worker: workerGroup([releaseWorker, providerWorker]), releaseWorker, providerWorker, connection };
  } catch (error) {
    await connection.close();
    throw error;
  }
}
