/**
 * Stops, freezes and marks: controls on promotions that outlive any one release, kept by one
 * long-lived promotion-controls workflow per Temporal namespace. A stop holds promotions until
 * someone resumes them (stop-the-line, or a hold on one environment); a freeze holds them between
 * two dates; a mark says one version of one Pipeline is bad: its release ends and it is never
 * promoted again until unmarked. Workflow-safe (pure).
 */
import { pipelineKey, type PipelineRef } from './pipeline.js';
import { checkRevision } from './version.js';

export type { MarkedBad } from './release.js';

/** The workflow type `workflows/promotion-controls.ts` exports; the CLI and activities use it by name. */
export const PROMOTION_CONTROLS_WORKFLOW_TYPE = 'promotionControls';
/** One per namespace: every release checks the same controls. */
export const PROMOTION_CONTROLS_WORKFLOW_ID = 'baton/promotion-controls';
/** The controls workflow continues as new once its history is this long. */
export const CONTROLS_HISTORY_LIMIT = 2_000;
/** More controls than this at once is a script gone wrong, not a policy. */
export const MAX_CONTROLS = 500;
export const MAX_REASON_CHARS = 1024;

/** What a control holds: everything, one Pipeline (`namespace/name`), or one environment of one Pipeline. */
export interface ControlScope {
  pipeline?: string;
  environment?: string;
}

export interface PromotionControl {
  /** `stop-3`, `freeze-7`, `bad-9`: how `resume` and `unfreeze` name it. */
  id: string;
  /** `bad`: `version` of `scope.pipeline` is marked bad; it holds nothing else. */
  kind: 'stop' | 'freeze' | 'bad';
  scope: ControlScope;
  reason: string;
  /** Who set it: the name the CLI's user gave, or the gateway's authenticated approver. */
  by: string;
  at: string;
  /** A freeze holds from `from` (inclusive) to `until` (exclusive), ISO 8601. */
  from?: string;
  until?: string;
  /** The version a mark is about. */
  version?: string;
}

export interface StopRequest {
  scope: ControlScope;
  reason: string;
  by: string;
}

export interface FreezeRequest extends StopRequest {
  from: string;
  until: string;
}

/** Lifts the stops of exactly this scope (`{}`: the stop of everything); `all` lifts every stop. */
export interface ResumeRequest {
  scope: ControlScope;
  all?: boolean;
  by: string;
}

export interface UnfreezeRequest {
  id: string;
  by: string;
}

export interface MarkBadRequest {
  /** `namespace/name`. */
  pipeline: string;
  version: string;
  reason: string;
  by: string;
}

export interface UnmarkBadRequest {
  pipeline: string;
  version: string;
  by: string;
}

/** What a mark did: the mark, and whether a running release of the version was told to end. */
export interface MarkBadResult {
  mark: PromotionControl;
  /** The release workflow told to end; absent when none of that version ran. */
  endedRelease?: string;
}

/** A release held by a control, told when the controls change (signal `controlsChanged`). */
export interface ControlWatcher {
  workflowId: string;
  pipeline: string;
  environment: string;
}

export interface PromotionControlsInput {
  /** Carried over continue-as-new. */
  controls?: PromotionControl[];
  watchers?: ControlWatcher[];
  lastId?: number;
}

/** What a release asks before promoting into `environment` of `pipeline`. */
export interface ControlsRequest {
  pipeline: PipelineRef;
  environment: string;
  /** The asking release; registered as a watcher when something holds or will hold it. */
  workflowId: string;
}

export function covers(scope: ControlScope, pipeline: string, environment: string): boolean {
  return (
    (scope.pipeline === undefined || scope.pipeline === pipeline) && (scope.environment === undefined || scope.environment === environment)
  );
}

/** The controls of `controls` that hold `pipeline`'s `environment` at `nowMs`. */
export function activeControls(
  controls: readonly PromotionControl[],
  pipeline: string,
  environment: string,
  nowMs: number,
): PromotionControl[] {
  return controls.filter(
    (c) =>
      covers(c.scope, pipeline, environment) &&
      (c.kind === 'stop' || (c.kind === 'freeze' && Date.parse(c.from!) <= nowMs && nowMs < Date.parse(c.until!))),
  );
}

/** The next instant after `nowMs` at which a freeze covering the environment starts or ends. */
export function nextChange(
  controls: readonly PromotionControl[],
  pipeline: string,
  environment: string,
  nowMs: number,
): number | undefined {
  const instants = controls
    .filter((c) => c.kind === 'freeze' && covers(c.scope, pipeline, environment))
    .flatMap((c) => [Date.parse(c.from!), Date.parse(c.until!)])
    .filter((t) => t > nowMs);
  return instants.length === 0 ? undefined : Math.min(...instants);
}

export function scopeLabel(scope: ControlScope): string {
  if (scope.pipeline === undefined) return scope.environment === undefined ? 'every Pipeline' : `${scope.environment} of every Pipeline`;
  return scope.environment === undefined ? scope.pipeline : `${scope.environment} of ${scope.pipeline}`;
}

/** One line a held release shows: who, when, why, and until when for a freeze. */
export function describeControl(control: PromotionControl): string {
  switch (control.kind) {
    case 'stop':
      return `stopped by ${control.by} at ${control.at} (${scopeLabel(control.scope)}): ${control.reason}`;
    case 'freeze':
      return `frozen until ${control.until} by ${control.by} (${scopeLabel(control.scope)}): ${control.reason}`;
    case 'bad':
      return `${control.scope.pipeline} ${control.version} marked bad by ${control.by} at ${control.at}: ${control.reason}`;
  }
}

/** The mark on `version` of `pipeline` (`namespace/name`), if it is marked bad. */
export function markOf(controls: readonly PromotionControl[], pipeline: string, version: string): PromotionControl | undefined {
  return controls.find((c) => c.kind === 'bad' && c.scope.pipeline === pipeline && c.version === version);
}

/** What is wrong with a mark-bad (or, without a reason, unmark-bad) request, or undefined. */
export function markRequestProblem(request: unknown, kind: 'mark' | 'unmark'): string | undefined {
  if (typeof request !== 'object' || request === null) return 'a mark is {"pipeline": "ns/name", "version": "…", "reason": "…", "by": "…"}';
  const { pipeline, version, reason, by } = request as Record<string, unknown>;
  if (typeof pipeline !== 'string' || !/^[^/\s]+\/[^/\s]+$/.test(pipeline) || pipeline.length > 507) return 'pipeline is namespace/name';
  if (typeof version !== 'string') return 'version is required';
  const checked = checkRevision(version);
  if (!checked.ok) return `version: ${checked.problem}`;
  if (checked.version !== version) return `mark the version without its build metadata: ${checked.version}`;
  if (kind === 'mark') {
    if (typeof reason !== 'string' || reason.trim() === '') return 'a reason is required: say why the version is bad';
    if (reason.length > MAX_REASON_CHARS) return `the reason is longer than ${MAX_REASON_CHARS} characters`;
  }
  if (typeof by !== 'string' || by.trim() === '' || by.length > 256) return 'by (who marks it) is required, at most 256 characters';
  return undefined;
}

export function controlScope(pipeline?: PipelineRef, environment?: string): ControlScope {
  return { ...(pipeline === undefined ? {} : { pipeline: pipelineKey(pipeline) }), ...(environment === undefined ? {} : { environment }) };
}

/** What is wrong with a stop or freeze request, or undefined. */
export function controlRequestProblem(request: unknown, kind: 'stop' | 'freeze'): string | undefined {
  if (typeof request !== 'object' || request === null) return `a ${kind} is {"scope": {...}, "reason": "…", "by": "…"}`;
  const { scope, reason, by, from, until } = request as Record<string, unknown>;
  if (typeof scope !== 'object' || scope === null)
    return 'scope is required: {} for every Pipeline, {"pipeline": "ns/name", "environment": "prod"}';
  const { pipeline, environment } = scope as Record<string, unknown>;
  if (pipeline !== undefined && (typeof pipeline !== 'string' || !/^[^/\s]+\/[^/\s]+$/.test(pipeline))) {
    return 'scope.pipeline is namespace/name';
  }
  if (environment !== undefined && (typeof environment !== 'string' || environment.trim() === '' || environment.length > 253)) {
    return 'scope.environment is an environment name';
  }
  if (typeof reason !== 'string' || reason.trim() === '') return 'a reason is required: say why, for everyone it holds';
  if (reason.length > MAX_REASON_CHARS) return `the reason is longer than ${MAX_REASON_CHARS} characters`;
  if (typeof by !== 'string' || by.trim() === '' || by.length > 256) return 'by (who sets it) is required, at most 256 characters';
  if (kind === 'freeze') {
    const start = typeof from === 'string' ? Date.parse(from) : Number.NaN;
    const end = typeof until === 'string' ? Date.parse(until) : Number.NaN;
    if (Number.isNaN(start) || Number.isNaN(end))
      return 'a freeze needs from and until, as ISO 8601 date-times (2026-12-24T00:00:00+01:00)';
    if (end <= start) return 'a freeze ends after it starts (until > from)';
  }
  return undefined;
}
