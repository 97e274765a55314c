/**
 * Pure bookkeeping of a release's journey: which environments the version reached, which promotion
 * comes next, and the sentences the Temporal UI shows. No Temporal APIs here, so it is trivially
 * deterministic and unit-testable.
 */
import type { DeployedSignal } from '../model/messages.js';
import { environmentIndex, type PipelineSpec } from '../model/pipeline.js';
import type { DeploymentRecord, ReleaseInput, ReleaseState } from '../model/release.js';
import { ReleasePhase } from '../model/release.js';

export function initialState(input: ReleaseInput): ReleaseState {
  return {
    pipeline: input.pipeline,
    version: input.version,
    phase: ReleasePhase.started,
    currentStep: `Waiting for the first deployment of ${input.version}`,
    reached: [],
    promotions: [],
  };
}

/** Records a deployment; returns false when Flux reported that environment already (a repeat). */
export function recordDeployment(state: ReleaseState, signal: DeployedSignal): boolean {
  const known = state.reached.find((r) => r.environment === signal.environment);
  if (known !== undefined) {
    known.repeats += 1;
    return false;
  }
  const record: DeploymentRecord = {
    environment: signal.environment,
    reachedAt: signal.receivedAt,
    event: signal.event,
    repeats: 0,
  };
  state.reached.push(record);
  return true;
}

/** The reached environment furthest along the pipeline (environments the spec no longer has are skipped). */
export function furthestReached(state: ReleaseState, spec: PipelineSpec): { index: number; environment: string } | undefined {
  let furthest: { index: number; environment: string } | undefined;
  for (const { environment } of state.reached) {
    const index = environmentIndex(spec, environment);
    if (index >= 0 && (furthest === undefined || index > furthest.index)) furthest = { index, environment };
  }
  return furthest;
}

export function alreadyPromotedInto(state: ReleaseState, environment: string): boolean {
  return state.promotions.some((p) => p.targetEnvironment === environment && p.completedAt !== undefined);
}

export function journeyLine(spec: PipelineSpec): string {
  return spec.environments.map((e) => e.name).join(' → ');
}

export function appName(spec: PipelineSpec): string {
  return spec.appRef.name;
}
