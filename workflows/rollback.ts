/**
 * A rollback is a release that did not start from a Flux event: somebody asked for `version` in one
 * environment. It behaves as if the version had reached the environment before that one — the
 * target's strategy, manual gate, train, window and stops all apply — and ends once Flux reports the
 * version in the target. It skips what only makes sense for a version coming up the pipeline: the
 * soak of the environment before (the version never ran there this time) and queue mode's refusal
 * to downgrade (a rollback is the downgrade somebody asked for).
 */
import { environmentIndex, type PipelineSpec } from '../model/pipeline.js';
import type { ReleaseState, RollbackRequest } from '../model/release.js';

export type RollbackStep =
  /** Promote from `source` into the rollback's environment (`index` is the source's). */
  | { kind: 'promote'; index: number; environment: string }
  /** Flux reported the version in the rollback's environment: the rollback is done. */
  | { kind: 'done'; environment: string }
  /** The Pipeline cannot take this rollback; `problem` says what to change. */
  | { kind: 'invalid'; problem: string };

export function rollbackStep(state: ReleaseState, rollback: RollbackRequest, spec: PipelineSpec): RollbackStep {
  const index = environmentIndex(spec, rollback.environment);
  const names = spec.environments.map((e) => e.name).join(', ');
  if (index < 0) return { kind: 'invalid', problem: `the Pipeline has no environment ${rollback.environment} (it has ${names})` };
  if (index === 0) {
    return {
      kind: 'invalid',
      problem:
        `${rollback.environment} is the Pipeline's first environment: nothing promotes into it (its Flux source decides ` +
        `its version); roll back an environment after it (${names})`,
    };
  }
  if (state.reached.some((r) => r.environment === rollback.environment)) return { kind: 'done', environment: rollback.environment };
  return { kind: 'promote', index: index - 1, environment: spec.environments[index - 1]!.name };
}

/** `Rolling back to 6.7.0 in prod, asked by alice at …: 6.7.1 breaks checkout` */
export function describeRollback(state: Pick<ReleaseState, 'version'>, rollback: RollbackRequest): string {
  return `Rolling back to ${state.version} in ${rollback.environment}, asked by ${rollback.by} at ${rollback.at}: ${rollback.reason}`;
}
