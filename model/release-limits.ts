/**
 * Bounds on what a release keeps in its state. The state is returned by the `state` query and by the
 * workflow, and carried over continue-as-new as one payload: everything in it that a sender controls
 * (Flux event text, decisions) is cut to these sizes, far below Temporal's 2 MB payload limit.
 */

export const RELEASE_LIMITS = {
  /** A Flux event's message: enough to say what happened; helm-controller can send whole manifests. */
  eventMessageChars: 300,
  /** Every other string of a Flux event (revision, reason, names). */
  eventFieldChars: 256,
  /** Environments a release records as reached: more than any Pipeline has. */
  reachedEnvironments: 64,
  /** Targets whose reports a release keeps (every target of every environment): more than any Pipeline has. */
  targets: 256,
  /** Ignored decisions kept; older ones are only counted. */
  ignoredDecisions: 20,
  /** Why a decision was ignored (it may quote the input). */
  ignoredWhyChars: 300,
  /** Decisions waiting for a gate that has not opened; more are ignored. */
  earlyDecisions: 10,
  /** The last error kept in state (the failure itself carries the whole message). */
  lastErrorChars: 2_000,
  /** History events after which a run continues as new (a repeat of a Flux event costs about four). */
  historyEvents: 5_000,
} as const;

/** `text` cut to at most `maxChars` UTF-16 code units, never inside a surrogate pair, with `…` when cut. */
export function clip(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let cut = text.slice(0, maxChars - 1);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}…`;
}
