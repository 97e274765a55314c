/** The Baton worker: release workflows and their activities on one task queue. */
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { type ActivityDependencies, createActivities } from '../activities/index.js';
import type { TemporalConfig } from '../config/config.js';
import { temporalConnectionOptions } from '../config/temporal-connection.js';
import { ensureSearchAttributes } from './search-attributes.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface ReleaseWorker {
  worker: Worker;
  connection: NativeConnection;
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
    const worker = await Worker.create({
      connection,
      namespace: temporal.namespace,
      taskQueue: temporal.taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: createActivities({ ...deps, temporal: new Client({ connection, namespace: temporal.namespace }) }),
    });
    return { worker, connection };
  } catch (error) {
    await connection.close();
    throw error;
  }
}
