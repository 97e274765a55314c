/**
 * The Baton worker: release workflows and their activities on the release task queue, and the git
 * provider API calls on the provider task queue, whose activity rate the Temporal server limits
 * across every replica (`maxTaskQueueActivitiesPerSecond`), so all of them together stay within the
 * provider's quota.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { type ActivityInterceptorsFactory, NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { type ActivityDependencies, createActivities, createProviderActivities } from '../activities/index.js';
import type { TemporalConfig } from '../config/config.js';
import { temporalConnectionOptions } from '../config/temporal-connection.js';
import type { Tracing } from '../config/tracing.js';
import { ensureSearchAttributes } from './search-attributes.js';
import { TRACING_WORKFLOW_MODULES, workerTracing } from './tracing.js';

/** The workflows' entry, next to this module: TypeScript under tsx, JavaScript once compiled. */
export const WORKFLOWS_PATH = fileURLToPath(
  new URL(`../workflows/index.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url),
);

/** Where `npm run build` writes the prebuilt workflow bundles: beside the compiled worker/ only. */
export const WORKFLOW_BUNDLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The prebuilt bundles' file names: the workflows alone, and with the tracing interceptors. */
export const WORKFLOW_BUNDLES = { plain: 'workflow-bundle.js', traced: 'workflow-bundle-traced.js' } as const;

export type WorkflowSource =
  { workflowBundle: { codePath: string } } | { workflowsPath: string; workflowInterceptorModules: readonly string[] };

/**
 * The compiled worker loads a bundle `npm run build` made, so it starts without webpack and SWC
 * (faster, less memory, nothing written at run time); under tsx no bundle lies beside the sources
 * and the workflows are bundled at start, so edits take effect without a build. Tracing or not
 * picks the bundle, or the interceptor modules bundled with the workflows.
 */
export function workflowSource(options: { traced: boolean; bundleDir?: string }): WorkflowSource {
  const bundlePath = join(options.bundleDir ?? WORKFLOW_BUNDLE_DIR, options.traced ? WORKFLOW_BUNDLES.traced : WORKFLOW_BUNDLES.plain);
  return existsSync(bundlePath)
    ? { workflowBundle: { codePath: bundlePath } }
    : { workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: options.traced ? TRACING_WORKFLOW_MODULES : [] };
}

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
  options: { activityInterceptors?: ActivityInterceptorsFactory[]; tracing?: Tracing } = {},
): Promise<ReleaseWorker> {
  const tracing = options.tracing === undefined ? undefined : await workerTracing(options.tracing);
  const activityInterceptors = [...(tracing?.activityInterceptors ?? []), ...(options.activityInterceptors ?? [])];
  const source = workflowSource({ traced: tracing !== undefined });
  const connection = await NativeConnection.connect(await temporalConnectionOptions(temporal));
  try {
    const registered = await ensureSearchAttributes(connection, temporal.namespace);
    if (registered.length > 0) log.info({ registered }, 'registered search attributes');
    const client = new Client({
      connection,
      namespace: temporal.namespace,
      ...(tracing === undefined ? {} : { interceptors: tracing.clientInterceptors }),
    });
    const releaseWorker = await Worker.create({
      connection,
      namespace: temporal.namespace,
      taskQueue: temporal.taskQueue,
      ...('workflowBundle' in source ? { workflowBundle: source.workflowBundle } : { workflowsPath: source.workflowsPath }),
      activities: createActivities({ ...deps, temporal: client }),
      interceptors: {
        activity: activityInterceptors,
        ...('workflowBundle' in source ? {} : { workflowModules: [...source.workflowInterceptorModules] }),
      },
      ...(tracing === undefined ? {} : { sinks: tracing.sinks }),
    });
    const providerWorker = await Worker.create({
      connection,
      namespace: temporal.namespace,
      taskQueue: temporal.providerTaskQueue,
      activities: createProviderActivities(deps),
      interceptors: { activity: activityInterceptors },
      maxTaskQueueActivitiesPerSecond: temporal.providerRateLimit,
    });
    return { worker: workerGroup([releaseWorker, providerWorker]), releaseWorker, providerWorker, connection };
  } catch (error) {
    await connection.close();
    throw error;
  }
}
