/** Starting releases as the gateway does (signal-with-start), with a policy quick to retry, for reliability scenarios. */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultConfig } from '../../../config/config.js';
import { deployedSignal, stateQuery } from '../../../model/messages.js';
import type { PipelineRef } from '../../../model/pipeline.js';
import { type ReleaseInput, type ReleasePolicy, type ReleaseState, releaseWorkflowId } from '../../../model/release.js';
import type { release } from '../../../workflows/release.js';
import { deployedFromFixture, FIXTURES } from '../../support/events.js';
import { eventually } from '../../support/eventually.js';

export type ReleaseHandle = WorkflowHandle<typeof release>;

/**
 * The defaults, but an attempt that a dead worker holds times out after a few seconds instead of a
 * minute, and retries come quickly: what changes is how long the scenario waits, not what happens.
 */
export function quickPolicy(overrides: Partial<ReleasePolicy> = {}): ReleasePolicy {
  const defaults = defaultConfig().releasePolicy;
  return {
    ...defaults,
    activityTimeout: '5s',
    activityRetry: { ...defaults.activityRetry, initialInterval: '200ms', maximumInterval: '1s', maximumAttempts: 10 },
    ...overrides,
  };
}

/** Flux reports `version` in `environment` (target `namespace`): signal-with-start of the version's release. */
export async function deployed(
  client: Client,
  options: { taskQueue: string; pipeline: PipelineRef; version: string; environment: string; namespace: string; policy?: ReleasePolicy },
): Promise<ReleaseHandle> {
  const input: ReleaseInput = { pipeline: options.pipeline, version: options.version, policy: options.policy ?? quickPolicy() };
  const signal = deployedFromFixture(FIXTURES.upgradeSucceeded, options.environment, options.namespace);
  return client.workflow.signalWithStart<typeof release, [typeof signal]>('release', {
    workflowId: releaseWorkflowId(options.pipeline, options.version),
    taskQueue: options.taskQueue,
    args: [input],
    signal: deployedSignal,
    signalArgs: [{ ...signal, event: { ...signal.event, revision: options.version } }],
  });
}

export function promotedInto(handle: ReleaseHandle, environment: string, timeoutMs = 120_000): Promise<ReleaseState> {
  return eventually(
    `the promotion of ${handle.workflowId} into ${environment}`,
    async () => {
      const state = await handle.query(stateQuery);
      return state.promotions.some((p) => p.targetEnvironment === environment && p.completedAt !== undefined) && state;
    },
    timeoutMs,
  );
}
