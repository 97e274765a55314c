/**
 * Signals, queries and updates of the release, environment-claims and promotion-controls workflows,
 * defined once for the workflows, the gateway, the CLI and the tests.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  ControlWatcher,
  FreezeRequest,
  MarkBadRequest,
  MarkBadResult,
  MarkedBad,
  PromotionControl,
  ResumeRequest,
  StopRequest,
  UnfreezeRequest,
  UnmarkBadRequest,
} from './promotion-controls.js';
import type { Decision, DecisionRecord, DeploymentEvent, ReleaseState, TrainDeparture } from './release.js';

export type { Decision, DecisionAuthentication } from './release.js';

export interface DeployedSignal {
  /** The environment Flux reported the version in (the webhook's `{sourceEnv}`). */
  environment: string;
  event: DeploymentEvent;
  /** When the gateway accepted the event (ISO 8601). */
  receivedAt: string;
}

/**
 * A release's claim on an environment: it waits at the environment's gate, or was promoted into it.
 * Sent to the environment's claims workflow, which passes it on (as `supersede`) to the releases
 * that got there earlier.
 */
export interface EnvironmentClaim {
  version: string;
  environment: string;
  /** The claiming release. */
  workflowId: string;
  /** `waiting`: it waits at the environment's gate; `promoted`: it was promoted into the environment. */
  reason: 'waiting' | 'promoted';
  /** When it got there (ISO 8601); only releases that got there earlier yield. */
  at: string;
  /**
   * Sent by a release of a Pipeline that queues versions: nobody yields to it. The claims workflow
   * remembers the version promoted last and tells the waiting releases about it.
   */
  queued?: true;
}

export const deployedSignal = defineSignal<[DeployedSignal]>('deployed');
/**
 * Flux reported that deploying the release's version failed (sent by the gateway, only to a release
 * that runs): the release stops promoting and ends Failed.
 */
export const deploymentFailedSignal = defineSignal<[DeployedSignal]>('deployment-failed');
/** Fire-and-forget decisions (`temporal workflow signal`, `tctl`, the UI's signal form). */
export const approveSignal = defineSignal<[Decision]>('approve');
export const rejectSignal = defineSignal<[Decision]>('reject');
/** Validated decisions: refused without touching history when nothing matching waits; returns the record. */
export const approveUpdate = defineUpdate<DecisionRecord, [Decision]>('approve');
export const rejectUpdate = defineUpdate<DecisionRecord, [Decision]>('reject');
/** A claim that takes precedence over this release at an environment it holds (sent by the claims workflow). */
export const supersedeSignal = defineSignal<[EnvironmentClaim]>('supersede');
export const stateQuery = defineQuery<ReleaseState>('state');
/** A release train departed and takes this release (sent by the train's departure workflow). */
export const departSignal = defineSignal<[TrainDeparture]>('depart');

/** Sent by a release (through an activity) to its environment's claims workflow. */
export const claimSignal = defineSignal<[EnvironmentClaim]>('claim');
/** The releases holding the environment, in the order they got there. */
export const claimsQuery = defineQuery<EnvironmentClaim[]>('claims');
/** Queue mode: the claim of the version promoted last into the environment, if any. */
export const promotedQuery = defineQuery<EnvironmentClaim | undefined>('promoted');
/**
 * Queue mode: a version was promoted into the environment this release waits at (sent by the
 * claims workflow); the release compares it with its own.
 */
export const environmentPromotedSignal = defineSignal<[EnvironmentClaim]>('environment-promoted');

/** Stop promotions in a scope until resumed; returns the stop (promotion-controls workflow). */
export const stopUpdate = defineUpdate<PromotionControl, [StopRequest]>('stop');
/** Lift the stops of a scope (or all); returns the stops lifted. */
export const resumeUpdate = defineUpdate<PromotionControl[], [ResumeRequest]>('resume');
/** Freeze promotions in a scope between two dates; returns the freeze. */
export const freezeUpdate = defineUpdate<PromotionControl, [FreezeRequest]>('freeze');
/** Lift a freeze by its id; returns it. */
export const unfreezeUpdate = defineUpdate<PromotionControl, [UnfreezeRequest]>('unfreeze');
/**
 * Mark a version of a Pipeline bad: its running release ends, and it is not promoted again until
 * unmarked; returns the mark (promotion-controls workflow).
 */
export const markBadUpdate = defineUpdate<MarkBadResult, [MarkBadRequest]>('markBad');
/** Lift the mark of a version; returns it. */
export const unmarkBadUpdate = defineUpdate<PromotionControl, [UnmarkBadRequest]>('unmarkBad');
/** To the release of a version marked bad (sent by promotion-controls): it ends, saying who and why. */
export const markedBadSignal = defineSignal<[MarkedBad]>('markedBad');
/** Every stop, freeze and mark in force or to come. */
export const controlsQuery = defineQuery<PromotionControl[]>('controls');
/** A held release asks to be told when the controls change (sent by an activity of the release). */
export const watchControlsSignal = defineSignal<[ControlWatcher]>('watchControls');
/** To a held release: the stops or freezes changed; look again. */
export const controlsChangedSignal = defineSignal('controlsChanged');
