/**
 * Signals, queries and updates of the release workflow, defined once for the workflow, the gateway,
 * the CLI and the tests.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DeploymentEvent, ReleaseState } from './release.js';

export interface DeployedSignal {
  /** The environment Flux reported the version in (the webhook's `{sourceEnv}`). */
  environment: string;
  event: DeploymentEvent;
  /** When the gateway accepted the event (ISO 8601). */
  receivedAt: string;
}

export interface Decision {
  approver: string;
  comment?: string;
  /** When set, the decision applies only if this environment is the one waiting. */
  environment?: string;
}

export const deployedSignal = defineSignal<[DeployedSignal]>('deployed');
export const approveSignal = defineSignal<[Decision]>('approve');
export const rejectSignal = defineSignal<[Decision]>('reject');
export const stateQuery = defineQuery<ReleaseState>('state');
