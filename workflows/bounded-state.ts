/**
 * Keeping a release's state small whatever senders put in signals: Flux event text and ignored
 * decisions are cut to `RELEASE_LIMITS` as they are recorded, and a state carried over from a run
 * that recorded them whole is cut the same way when the next run starts.
 */
import { clip, RELEASE_LIMITS } from '../model/release-limits.js';
import type { DeploymentEvent, IgnoredDecision, ReleaseState } from '../model/release.js';

/** What a release keeps of a Flux event. */
export function keptEvent(event: DeploymentEvent): DeploymentEvent {
  const field = (text: string): string => clip(text, RELEASE_LIMITS.eventFieldChars);
  const { apiVersion, kind, namespace, name } = event.involvedObject;
  return {
    revision: field(event.revision),
    reason: field(event.reason),
    message: clip(event.message, RELEASE_LIMITS.eventMessageChars),
    timestamp: field(event.timestamp),
    reportingController: field(event.reportingController),
    involvedObject: {
      ...(apiVersion === undefined ? {} : { apiVersion: field(apiVersion) }),
      kind: field(kind),
      namespace: field(namespace),
      name: field(name),
    },
  };
}

/** Records an ignored decision; past the limit the oldest are dropped and counted. */
export function recordIgnoredDecision(state: ReleaseState, ignored: IgnoredDecision): void {
  const list = (state.ignoredDecisions ??= []);
  list.push(keptIgnoredDecision(ignored));
  dropOldestIgnored(state, list);
}

/** `state` with everything a sender controls cut to the limits (a carried state may predate them). */
export function bounded(state: ReleaseState): ReleaseState {
  for (const reached of state.reached) reached.event = keptEvent(reached.event);
  for (const target of state.targets ?? []) if (target.event !== undefined) target.event = keptEvent(target.event);
  if (state.failure !== undefined) state.failure.event = keptEvent(state.failure.event);
  if (state.ignoredDecisions !== undefined) {
    state.ignoredDecisions = state.ignoredDecisions.map(keptIgnoredDecision);
    dropOldestIgnored(state, state.ignoredDecisions);
  }
  if (state.lastError !== undefined) state.lastError = clip(state.lastError, RELEASE_LIMITS.lastErrorChars);
  return state;
}

function keptIgnoredDecision({ decision, approver, why, at }: IgnoredDecision): IgnoredDecision {
  return {
    decision,
    ...(approver === undefined ? {} : { approver: clip(approver, RELEASE_LIMITS.eventFieldChars) }),
    why: clip(why, RELEASE_LIMITS.ignoredWhyChars),
    at,
  };
}

function dropOldestIgnored(state: ReleaseState, list: IgnoredDecision[]): void {
  const excess = list.length - RELEASE_LIMITS.ignoredDecisions;
  if (excess <= 0) return;
  list.splice(0, excess);
  state.ignoredDecisionsDropped = (state.ignoredDecisionsDropped ?? 0) + excess;
}
