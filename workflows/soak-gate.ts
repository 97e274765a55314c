/**
 * The soak time of an environment (`promotion.baton.dev/soak.<env>`): a version that reached it moves
 * on only once it has run there that long, counted from the Flux event that reported it. The wait is
 * a durable timer, woken early by news as the release's other waits are: a Flux failure for the
 * version ends the release (its soak failed), a report further along makes the soak moot.
 *
 * The soak comes before the next environment's manual gate and change window: the version is not
 * due there until it has soaked, so nobody is asked to approve a version that may still fail. A
 * decision sent during the soak that names the environment and the version waits for the gate, as
 * any early decision does.
 */
import { condition, patched, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { FailureType } from '../model/failures.js';
import { type Pipeline, pipelineKey } from '../model/pipeline.js';
import { invalidPolicyMessage, promotionPolicyProblems } from '../model/promotion-policies.js';
import { type DeploymentRecord, ReleasePhase, type SoakBlock } from '../model/release.js';
import { PromotionBlockedBy } from '../model/search-attributes.js';
import { hasSoakAnnotations, pipelineSoaks, type SoakTime, timeLeft } from '../model/soak-time.js';
import { appName } from './journey.js';
import { now, type ReleaseRun } from './release-run.js';

/**
 * Releases recorded before soak times existed moved on at once, whatever the Pipeline's annotations
 * said; they keep doing so when their histories replay.
 */
const SOAK_TIME_PATCH = 'soak-time';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** `soaked`: move on. `interrupted`: news, or the history grew long; look at the Pipeline again. */
export type SoakOutcome = 'soaked' | 'interrupted' | 'superseded';

/**
 * How often the time left is brought up to date in the state and the UI's current details: each
 * update is a timer in the history, so coarsely while much is left.
 */
function refreshEvery(leftMs: number): number {
  if (leftMs > DAY) return HOUR;
  if (leftMs > 2 * HOUR) return 15 * MINUTE;
  return 5 * MINUTE;
}

export class SoakGate {
  constructor(
    private readonly run: ReleaseRun,
    /** Whether something else the release must look at arrived (a `deployed` or `deployment-failed` signal). */
    private readonly news: () => boolean,
    /** Whether the run should continue as new (the release loop does so between its steps). */
    private readonly historyIsLong: () => boolean,
  ) {}

  /**
   * The soak time of `environment`, if it has one. Any policy annotation of the Pipeline that cannot
   * be read fails the release, whichever environment it names: a typo must not mean "no soak".
   */
  soakFor(pipeline: Pipeline, environment: string): SoakTime | undefined {
    if (!hasSoakAnnotations(pipeline) || !patched(SOAK_TIME_PATCH)) return undefined;
    const problems = promotionPolicyProblems(pipeline);
    if (problems.length > 0) {
      throw this.run.fail(invalidPolicyMessage(pipelineKey(pipeline), problems), FailureType.invalidPromotionPolicy);
    }
    return pipelineSoaks(pipeline).soaks.get(environment);
  }

  /** Moves on when the version has soaked in `reached` long enough; otherwise waits until it has or something happens. */
  async wait(pipeline: Pipeline, reached: DeploymentRecord, target: string, soak: SoakTime): Promise<SoakOutcome> {
    const { state } = this.run;
    const reportedAt = Date.parse(reached.reachedAt);
    // A report stamped ahead of the workflow clock (the gateway's clock runs fast) counts from now.
    const start = Number.isNaN(reportedAt) ? Date.now() : Math.min(reportedAt, Date.now());
    const endsAt = start + soak.ms;
    const previous = state.blockedBy?.kind === 'soak' && state.blockedBy.environment === target ? state.blockedBy : undefined;
    const since = previous?.since ?? now();
    let shown = false;
    for (;;) {
      const left = endsAt - Date.now();
      if (left <= 0) {
        this.clear();
        return 'soaked';
      }
      const block: SoakBlock = {
        kind: 'soak',
        environment: target,
        policy: soak.text,
        since,
        soakingIn: reached.environment,
        reachedAt: new Date(start).toISOString(),
        endsAt: new Date(endsAt).toISOString(),
        description: `${timeLeft(left)} left`,
      };
      state.blockedBy = block;
      const step =
        `Soaking in ${block.soakingIn}: ${block.description}, until ${block.endsAt} (soak: ${soak.text} from ${block.reachedAt}, ` +
        `when Flux reported it there); then ${appName(pipeline.spec)} ${state.version} moves on to ${target}`;
      if (shown) {
        // The same phase and search attributes: only the time left changed, which needs no history event.
        state.currentStep = step;
        setCurrentDetails(step);
      } else {
        this.run.show(ReleasePhase.blocked, step, target);
        upsertSearchAttributes([{ key: PromotionBlockedBy, value: 'soak' }]);
        shown = true;
      }
      const woke = await condition(() => this.news() || state.supersededBy !== undefined, Math.min(left, refreshEvery(left)));
      if (state.supersededBy !== undefined) {
        this.clear();
        return 'superseded';
      }
      if (woke || this.historyIsLong()) return 'interrupted';
    }
  }

  /** The version is no longer soaking (it soaked, moved on, or the soak was removed); a change window's hold is not touched. */
  clear(): void {
    this.run.unblock('soak');
  }
}
