/**
 * Every promotion policy annotation of a Pipeline (change windows, soak times, release trains, verification) checked at once: a
 * Pipeline with one that cannot be read is invalid as a whole, wherever it is looked at — the
 * gateway refuses its events, its releases fail, Pipeline.status says Ready=False — because a typo
 * must never mean "no policy". Workflow-safe.
 */
import { readWindows } from './change-window.js';
import type { PolicyProblem } from './environment-annotations.js';
import type { Pipeline } from './pipeline.js';
import { readTrains } from './release-train.js';
import { readSoaks } from './soak-time.js';
import { readVerifications } from './verification.js';

export type { PolicyProblem };

export function describePolicyProblem({ annotation, value, problem }: PolicyProblem): string {
  return `annotation ${annotation}: "${value}": ${problem}`;
}

/** `Pipeline <key> has an invalid promotion policy: <every problem>`, as the gateway and the release say it. */
export function invalidPolicyMessage(pipelineKey: string, problems: readonly PolicyProblem[]): string {
  return `Pipeline ${pipelineKey} has an invalid promotion policy: ${problems.map(describePolicyProblem).join('; ')}`;
}

/** The problems of every policy annotation, from the annotations and environment names (raw Kubernetes objects too). */
export function readPolicyProblems(
  annotations: Readonly<Record<string, string>> | undefined,
  environments: readonly string[],
): PolicyProblem[] {
  return [
    ...readWindows(annotations, environments).problems,
    ...readSoaks(annotations, environments).problems,
    ...readTrains(annotations, environments).problems,
    ...readVerifications(annotations, environments).problems,
  ];
}

export function promotionPolicyProblems(pipeline: Pipeline): PolicyProblem[] {
  return readPolicyProblems(
    pipeline.annotations,
    pipeline.spec.environments.map((e) => e.name),
  );
}
