/**
 * Building Baton with `npm run build` and starting a worker process, compiled or under tsx, until
 * its pollers reach the Temporal server: shared by test/deploy/build.test.ts and bench/worker-start.ts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import protos from '@temporalio/proto';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/**
 * `npm run build -- --out-dir <dir>`, then a node_modules link so the output resolves its packages
 * from there as the image's /app does from its own.
 */
export function buildInto(dir: string): void {
  execFileSync('npm', ['run', '--silent', 'build', '--', '--out-dir', dir], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

export type WorkerMode = { kind: 'tsx' } | { kind: 'compiled'; dir: string };

/** The command line `node` runs for a worker: the chart's for the compiled one, `npm run worker`'s for tsx. */
export function workerArgs(mode: WorkerMode): string[] {
  return mode.kind === 'tsx'
    ? ['--import', 'tsx', join(REPO, 'worker/main.ts')]
    : ['--enable-source-maps', join(mode.dir, 'worker/main.js')];
}

export interface StartedWorker {
  child: ChildProcess;
  /** Milliseconds from spawn until the release task queue had a workflow poller. */
  startToPollingMs: number;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

/** Resident and peak resident memory of a process, in MiB (Linux /proc). */
export function memoryOf(pid: number): { rssMiB: number; peakRssMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024 };
}

async function hasWorkflowPoller(client: Client, taskQueue: string): Promise<boolean> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: taskQueue },
    taskQueueType: protos.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return pollers.length > 0;
}

/**
 * Spawns a worker on `taskQueue` (directory mode, the example Pipelines) and resolves once the
 * server reports a workflow poller on it: the moment it can take work, later than its
 * "worker running" log line.
 */
export async function startWorker(options: {
  mode: WorkerMode;
  client: Client;
  temporalAddress: string;
  taskQueue: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
  timeoutMs?: number;
}): Promise<StartedWorker> {
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...workerArgs(options.mode)], {
    cwd: REPO,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: options.temporalAddress,
      BATON_TASK_QUEUE: options.taskQueue,
      BATON_PIPELINES_DIR: join(REPO, 'examples/pipelines'),
      LOG_LEVEL: 'warn',
      // Off unless asked for: workers of concurrent tests and runs would contend for the default port.
      BATON_WORKER_METRICS_PORT: '0',
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const stop = async (): Promise<void> => {
    if (exitCode === undefined) child.kill('SIGTERM');
    await exited;
  };
  const deadline = started + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (exitCode !== undefined) throw new Error(`the worker exited with code ${String(exitCode)} before polling:\n${stderr}`);
    if (await hasWorkflowPoller(options.client, options.taskQueue)) break;
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`the worker did not poll ${options.taskQueue} in time:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { child, startToPollingMs: performance.now() - started, stderr: () => stderr, stop };
}
