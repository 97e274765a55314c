/**
 * The change window in front of an environment (`promotion.baton.dev/window.<env>`): a promotion due
 * while the window is shut waits on a durable timer until it opens, woken early by news as the
 * release's other waits are. It comes after the manual gate, whose approval it keeps: people may
 * approve at any hour, the promotion still happens in the window.
 *
 * The window is computed in the workflow, on its clock, with Luxon over the zone data Node's ICU
 * carries (model/change-window.ts says why not in a local activity).
 */
import { condition, patched, upsertSearchAttributes } from '@temporalio/workflow';
import { type ChangeWindow, describeInstant, hasWindowAnnotations, isOpen, nextOpening, pipelineWindows } from '../model/change-window.js';
import { FailureType } from '../model/failures.js';
import { invalidPolicyMessage } from '../model/promotion-policies.js';
import { type Pipeline, pipelineKey } from '../model/pipeline.js';
import { type DecisionRecord, ReleasePhase } from '../model/release.js';
import { PromotionBlockedBy } from '../model/search-attributes.js';
import { appName } from './journey.js';
import { now, type ReleaseRun } from './release-run.js';

/**
 * Releases recorded before change windows existed promoted at once, whatever the Pipeline's
 * annotations said; they keep doing so when their histories replay.
 */
const CHANGE_WINDOWS_PATCH = 'change-windows';

/** `open`: promote now. `interrupted`: news, or the window's time came; look at the Pipeline again. */
export type WindowOutcome = 'open' | 'interrupted' | 'superseded';

/** The gate's decision, kept while the window holds the promotion it approved. */
export interface KeptApproval {
  approval: DecisionRecord;
  /** Under a quorum: every approval that counted. */
  approvals?: DecisionRecord[];
}

export class WindowGate {
  constructor(
    private readonly run: ReleaseRun,
    /** Whether something else the release must look at arrived (a `deployed` signal). */
    private readonly news: () => boolean,
  ) {}

  /**
   * The change window of `target`, if it has one. Any window annotation of the Pipeline that cannot
   * be read fails the release, whichever environment it names: a typo must not mean "no window".
   */
  windowFor(pipeline: Pipeline, target: string): ChangeWindow | undefined {
    if (!hasWindowAnnotations(pipeline) || !patched(CHANGE_WINDOWS_PATCH)) return undefined;
    const { windows, problems } = pipelineWindows(pipeline);
    if (problems.length > 0) {
      throw this.run.fail(invalidPolicyMessage(pipelineKey(pipeline), problems), FailureType.invalidPromotionPolicy);
    }
    return windows.get(target);
  }

  /** The approval (and, under a quorum, the approvals) given at `target`'s gate before its window (or train) held the promotion. */
  keptApproval(target: string): KeptApproval | undefined {
    const block = this.run.state.blockedBy;
    if (block === undefined || block.kind === 'soak' || block.environment !== target || block.approval === undefined) return undefined;
    return { approval: block.approval, ...(block.approvals === undefined ? {} : { approvals: block.approvals }) };
  }

  /** Promotes now when the window is open; otherwise waits until it opens or something else happens. */
  async wait(pipeline: Pipeline, target: string, window: ChangeWindow, decided: Partial<KeptApproval>): Promise<WindowOutcome> {
    const { approval, approvals } = decided;
    const { run } = this;
    const { state } = run;
    const at = Date.now();
    if (isOpen(window, at)) {
      this.clear();
      return 'open';
    }
    const opening = nextOpening(window, at);
    const previous = state.blockedBy?.kind === 'window' && state.blockedBy.environment === target ? state.blockedBy : undefined;
    const since = previous?.since ?? now();
    const description = `opens ${describeInstant(opening.at, opening.rule.zone)}`;
    state.blockedBy = {
      kind: 'window',
      environment: target,
      policy: window.text,
      since,
      opensAt: new Date(opening.at).toISOString(),
      description,
      ...(approval === undefined ? {} : { approval }),
      ...(approvals === undefined ? {} : { approvals }),
    };
    run.show(
      ReleasePhase.blocked,
      `Waiting for the ${target} window: ${description} (${state.blockedBy.opensAt}), to promote ${appName(pipeline.spec)} ` +
        `${state.version}${approval === undefined ? '' : `, approved by ${approval.approver}`} — window: ${window.text}`,
      target,
    );
    upsertSearchAttributes([{ key: PromotionBlockedBy, value: 'window' }]);
    // A gate claimed the environment when it opened; without one, waiting here is the claim, so a
    // higher version waiting for the same window ends this one rather than both promoting at once.
    if (previous === undefined && approval === undefined) await run.claim(pipeline, target, 'waiting', since);
    await condition(() => this.news() || state.supersededBy !== undefined, opening.at - at);
    if (state.supersededBy !== undefined) {
      this.clear();
      return 'superseded';
    }
    return 'interrupted';
  }

  /** The promotion is no longer held (the window opened, the target moved on, the release ended). */
  clear(): void {
    this.run.unblock('window');
  }
}
