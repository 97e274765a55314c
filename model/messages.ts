/**
 * Signals, queries and updates of the release workflow, defined once for the workflow, the gateway,
 * the CLI and the tests.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DecisionRecord, DeploymentEvent, ReleaseState } from './release.js';

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
  /** When set, the decision applies only to this version (the approval endpoint's `{revision}`). */
  version?: string;
}

export interface SupersedeSignal {
  /** The newer version now waiting for, or promoted into, `environment`. */
  version: string;
  environment: string;
  workflowId: string;
  /** `waiting`: it waits at the environment's gate; `promoted`: it was promoted into the environment. */
  reason: 'waiting' | 'promoted';
  /** When it got there (ISO 8601); only releases that got there earlier yield. */
  at: string;
}

export const deployedSignal = defineSignal<[DeployedSignal]>('deployed');
/** Fire-and-forget decisions (`temporal workflow signal`, `tctl`, the UI's signal form). */
export const approveSignal = defineSignal<[Decision]>('approve');
export const rejectSignal = defineSignal<[Decision]>('reject');
/** Validated decisions: refused without touching history when nothing matching waits; returns the record. */
export const approveUpdate = defineUpdate<DecisionRecord, [Decision]>('approve');
export const rejectUpdate = defineUpdate<DecisionRecord, [Decision]>('reject');
export const supersedeSignal = defineSignal<[SupersedeSignal]>('supersede');
export const stateQuery = defineQuery<ReleaseState>('state');
