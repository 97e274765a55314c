/**
 * Stops and freezes in front of an environment: right before promoting, the release asks the
 * promotion-controls workflow what covers the target. While a stop or freeze holds it, it waits —
 * for a freeze until its end on a durable timer, for a stop until it is told the controls changed —
 * keeping the gate's approval, and shows who holds it, since when and why. A promotion step that
 * already started is never interrupted: the check comes before it. A version marked bad is never
 * promoted: the mark is read here too, for a release that started after its version was marked.
 */
import { condition, patched, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { controlsChangedSignal } from '../model/messages.js';
import { type Pipeline, pipelineKey } from '../model/pipeline.js';
import { activeControls, describeControl, markOf, nextChange } from '../model/promotion-controls.js';
import { type MarkedBad, ReleasePhase } from '../model/release.js';
import { PromotionBlockedBy } from '../model/search-attributes.js';
import { appName } from './journey.js';
import type { ReleaseActivityProxies } from './release-activities.js';
import { now, type ReleaseRun } from './release-run.js';
import type { KeptApproval } from './window-gate.js';

/** Releases recorded before stops and freezes existed promoted without asking; they keep doing so on replay. */
const PROMOTION_CONTROLS_PATCH = 'promotion-controls';

/**
 * `clear`: promote now. `interrupted`: the controls changed, a freeze ended, or news; look again.
 * `markedBad`: the version is marked bad; the release ends.
 */
export type ControlsOutcome = 'clear' | 'interrupted' | 'superseded' | { markedBad: MarkedBad };

export class ControlsGate {
  private changed = false;

  constructor(
    private readonly run: ReleaseRun,
    private readonly activities: ReleaseActivityProxies,
    /** Whether something else the release must look at arrived (a Flux failure). */
    private readonly news: () => boolean,
  ) {}

  listen(): void {
    setHandler(
      controlsChangedSignal,
      () => {
        this.changed = true;
      },
      { description: 'The stops or freezes changed: look again whether one holds this release (sent by promotion-controls).' },
    );
  }

  async wait(pipeline: Pipeline, target: string, decided: Partial<KeptApproval>): Promise<ControlsOutcome> {
    if (!patched(PROMOTION_CONTROLS_PATCH)) return 'clear';
    const { run } = this;
    const { state } = run;
    this.changed = false;
    const controls = await run.call(
      () =>
        this.activities.release.promotionControls({ pipeline: state.pipeline, environment: target, workflowId: workflowInfo().workflowId }),
      'reading the stops and freezes failed: ',
    );
    const mark = markOf(controls, pipelineKey(pipeline), state.version);
    if (mark !== undefined) {
      this.clear();
      return { markedBad: { id: mark.id, reason: mark.reason, by: mark.by, at: mark.at } };
    }
    const at = Date.now();
    const holding = activeControls(controls, pipelineKey(pipeline), target, at);
    if (holding.length === 0) {
      this.clear();
      return 'clear';
    }
    const next = nextChange(controls, pipelineKey(pipeline), target, at);
    const freezesOnly = holding.every((c) => c.kind === 'freeze');
    const until = freezesOnly ? Math.max(...holding.map((c) => Date.parse(c.until!))) : undefined;
    const block = state.blockedBy;
    const previous = block?.environment === target && (block.kind === 'stop' || block.kind === 'freeze') ? block : undefined;
    const { approval, approvals } = decided;
    const description = holding.map(describeControl).join('; ');
    state.blockedBy = {
      kind: freezesOnly ? 'freeze' : 'stop',
      environment: target,
      policy: description,
      since: previous?.since ?? now(),
      ...(until === undefined ? {} : { opensAt: new Date(until).toISOString() }),
      description,
      controls: holding.map((c) => c.id),
      ...(approval === undefined ? {} : { approval }),
      ...(approvals === undefined ? {} : { approvals }),
    };
    const lift = freezesOnly
      ? `resumes by itself at ${state.blockedBy.opensAt} (or \`baton unfreeze ${holding[0]!.id}\`)`
      : `\`baton resume\` lifts it`;
    run.show(
      ReleasePhase.blocked,
      `Held before promoting ${appName(pipeline.spec)} ${state.version} into ${target}` +
        `${approval === undefined ? '' : ` (approved by ${approval.approver})`}: ${description} — ${lift}`,
      target,
    );
    upsertSearchAttributes([{ key: PromotionBlockedBy, value: state.blockedBy.kind }]);
    const wake = (): boolean => this.changed || this.news() || state.supersededBy !== undefined;
    if (next === undefined) await condition(wake);
    else await condition(wake, Math.max(1, next - at));
    return state.supersededBy === undefined ? 'interrupted' : 'superseded';
  }

  /** Nothing holds the promotion any more. */
  clear(): void {
    this.run.unblock('stop', 'freeze');
  }
}
