/**
 * The release train into an environment (`promotion.baton.dev/train.<env>`): a promotion that is due
 * (soaked, approved behind a gate) waits for the train's next departure. The departure comes from the
 * train's Temporal Schedule, whose departure workflow sends `depart` to the highest version waiting
 * and supersedes the lower ones; this wait only shows when the next departure should be, and wakes at
 * that time to look again (a paused Schedule departs later, an edited annotation departs otherwise).
 * It comes after the manual gate, whose approval it keeps, and before the change window.
 */
import { condition, patched, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { describeInstant } from '../model/change-window.js';
import { FailureType } from '../model/failures.js';
import { departSignal } from '../model/messages.js';
import { type Pipeline, pipelineKey } from '../model/pipeline.js';
import { invalidPolicyMessage, promotionPolicyProblems } from '../model/promotion-policies.js';
import { ReleasePhase } from '../model/release.js';
import { hasTrainAnnotations, nextDeparture, pipelineTrains, type ReleaseTrain } from '../model/release-train.js';
import { clip, RELEASE_LIMITS } from '../model/release-limits.js';
import { PromotionBlockedBy } from '../model/search-attributes.js';
import { appName } from './journey.js';
import { now, type ReleaseRun } from './release-run.js';
import type { KeptApproval } from './window-gate.js';

/**
 * Releases recorded before release trains existed promoted at once, whatever the Pipeline's
 * annotations said; they keep doing so when their histories replay.
 */
const RELEASE_TRAINS_PATCH = 'release-trains';

/** How long after the departure the cron expression predicts the release looks again, if no train took it. */
const LATE_DEPARTURE_MS = 60_000;

/** `departed`: promote now. `interrupted`: news, or the departure time passed; look at the Pipeline again. */
export type TrainOutcome = 'departed' | 'interrupted' | 'superseded';

export class TrainGate {
  constructor(
    private readonly run: ReleaseRun,
    /** Whether something else the release must look at arrived (a `deployed` or `deployment-failed` signal). */
    private readonly news: () => boolean,
  ) {}

  /** Takes `depart` signals: the departure is kept in the state, for the environment it names. */
  listen(): void {
    setHandler(
      departSignal,
      (departure) => {
        if (typeof departure?.environment !== 'string') return;
        this.run.state.departure = {
          environment: clip(departure.environment, RELEASE_LIMITS.eventFieldChars),
          at: clip(String(departure.at), RELEASE_LIMITS.eventFieldChars),
          departureWorkflowId: clip(String(departure.departureWorkflowId), RELEASE_LIMITS.eventFieldChars),
        };
      },
      { description: 'A release train departed and takes this version (sent by the train’s departure workflow).' },
    );
  }

  /**
   * The train into `target`, if it has one. Any policy annotation of the Pipeline that cannot be
   * read fails the release, whichever environment it names: a typo must not mean "no train".
   */
  trainFor(pipeline: Pipeline, target: string): ReleaseTrain | undefined {
    if (!hasTrainAnnotations(pipeline) || !patched(RELEASE_TRAINS_PATCH)) return undefined;
    const problems = promotionPolicyProblems(pipeline);
    if (problems.length > 0) {
      throw this.run.fail(invalidPolicyMessage(pipelineKey(pipeline), problems), FailureType.invalidPromotionPolicy);
    }
    return pipelineTrains(pipeline).trains.get(target);
  }

  /** Promotes now when a train into `target` took the release; otherwise waits for one. */
  async wait(pipeline: Pipeline, target: string, train: ReleaseTrain, decided: Partial<KeptApproval>): Promise<TrainOutcome> {
    const { approval, approvals } = decided;
    const { run } = this;
    const { state } = run;
    const departed = (): boolean => state.departure?.environment === target;
    if (departed()) {
      this.clear();
      return 'departed';
    }
    const at = Date.now();
    const departsAt = nextDeparture(train, at);
    const previous = state.blockedBy?.kind === 'train' && state.blockedBy.environment === target ? state.blockedBy : undefined;
    const since = previous?.since ?? now();
    const description = `departs ${describeInstant(departsAt, train.zone)}`;
    state.blockedBy = {
      kind: 'train',
      environment: target,
      policy: train.text,
      since,
      departsAt: new Date(departsAt).toISOString(),
      description,
      ...(approval === undefined ? {} : { approval }),
      ...(approvals === undefined ? {} : { approvals }),
    };
    run.show(
      ReleasePhase.blocked,
      `Waiting for the ${target} train: ${description} (${state.blockedBy.departsAt}), to promote ${appName(pipeline.spec)} ` +
        `${state.version}${approval === undefined ? '' : `, approved by ${approval.approver}`} — train: ${train.text}`,
      target,
    );
    upsertSearchAttributes([{ key: PromotionBlockedBy, value: 'train' }]);
    // As at a change window: waiting here is the claim on the environment when no gate made one.
    if (previous === undefined && approval === undefined) await run.claim(pipeline, target, 'waiting', since);
    await condition(() => departed() || this.news() || state.supersededBy !== undefined, departsAt - at + LATE_DEPARTURE_MS);
    if (state.supersededBy !== undefined) {
      this.clear();
      return 'superseded';
    }
    if (departed()) {
      this.clear();
      return 'departed';
    }
    return 'interrupted';
  }

  /** The promotion is no longer held by a train; a change window's or a soak's hold is not touched. */
  clear(): void {
    this.run.unblock('train');
  }
}
