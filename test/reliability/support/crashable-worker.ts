/**
 * `worker/main.ts` as its own process (what `npm run worker` runs), which a reliability test kills
 * with SIGKILL — no shutdown, no last heartbeat, no completion sent — and starts again from the same
 * configuration, as Kubernetes restarts a container whose node died.
 */
import type { ChildProcess } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { startWorker } from '../../support/worker-start.js';

export interface CrashableWorker {
  /** SIGKILL, and resolves once the process is gone. */
  kill(): Promise<void>;
  /** A fresh process with the same configuration; resolves once it polls the release task queue. */
  restart(): Promise<void>;
  /** How many processes were SIGKILLed. */
  readonly kills: number;
  stop(): Promise<void>;
}

export async function startCrashableWorker(options: {
  client: Client;
  temporalAddress: string;
  taskQueue: string;
  env: Record<string, string>;
}): Promise<CrashableWorker> {
  const start = () =>
    startWorker({
      mode: { kind: 'tsx' },
      client: options.client,
      temporalAddress: options.temporalAddress,
      taskQueue: options.taskQueue,
      env: options.env,
      timeoutMs: 120_000,
    });
  let current: { child: ChildProcess; stop(): Promise<void> } | undefined = await start();
  let kills = 0;
  const kill = async (): Promise<void> => {
    const child = current?.child;
    current = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    kills += 1;
    await exited;
  };
  return {
    kill,
    async restart() {
      await kill();
      current = await start();
    },
    get kills() {
      return kills;
    },
    async stop() {
      await current?.stop();
      current = undefined;
    },
  };
}
