/**
 * Baton as production runs it, for the reliability scenarios: a real Temporal dev server, the worker
 * and the gateway each in a process of its own, and a receiver standing in for Flux's
 * notification-controller (where the notification strategy's `Promote` events go).
 */
import { randomBytes } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startDevServer } from '../infra/temporal.js';
import { type BatonProcess, type GatewayProcess, startGatewayProcess, startWorkerProcess } from './measured-processes.js';
import { examplePipelinesWithOpenWindows } from './example-pipelines.js';
import { type FluxEventReceiver, startFluxEventReceiver } from './flux-event-receiver.js';

export interface ProcessStack {
  temporal: TestWorkflowEnvironment;
  gateway: GatewayProcess;
  worker: BatonProcess;
  receiver: FluxEventReceiver;
  stop(): Promise<void>;
}

export interface ProcessStackOptions {
  /** Pipeline manifests to serve (default: a copy of examples/pipelines/ with open change windows). */
  pipelinesDir?: string;
  /** More configuration of both processes. */
  env?: Record<string, string>;
}

export async function startProcessStack(options: ProcessStackOptions = {}): Promise<ProcessStack> {
  const cleanup: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const step of cleanup.splice(0).reverse()) await step();
  };
  try {
    const temporal = await startDevServer();
    cleanup.push(() => temporal.teardown());
    const receiver = await startFluxEventReceiver();
    cleanup.push(() => receiver.close());
    let pipelinesDir = options.pipelinesDir;
    if (pipelinesDir === undefined) {
      const examples = await examplePipelinesWithOpenWindows();
      cleanup.push(() => examples.remove());
      pipelinesDir = examples.path;
    }
    const env = {
      TEMPORAL_ADDRESS: temporal.address,
      BATON_PIPELINES_DIR: pipelinesDir,
      BATON_EVENTS_ADDRESS: receiver.url,
      BATON_DECISION_KEY: randomBytes(32).toString('base64url'),
      // What is measured is what gets past the limit, not the limit itself (test/gateway/rate-limit.test.ts).
      BATON_RATE_LIMIT_MAX: String(1e9),
      ...options.env,
    };
    const worker = await startWorkerProcess(env);
    cleanup.push(() => worker.stop());
    const gateway = await startGatewayProcess(env);
    cleanup.push(() => gateway.stop());
    return { temporal, gateway, worker, receiver, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
