/**
 * Reminders while a manual gate waits: at the interval the Pipeline's approval-reminder annotation
 * sets, counted from the moment the gate opened, on durable timers (a worker restart or a
 * continue-as-new neither loses nor repeats one), and none once the gate is decided or expires.
 */
import { msToNumber } from '@temporalio/common';
import { condition } from '@temporalio/workflow';
import type { Pipeline } from '../model/pipeline.js';
import { approvalReminder, PipelineAnnotation } from '../model/pipeline-annotations.js';
import type { PendingGate } from '../model/release.js';
import { ReleaseNoticeReason } from '../model/release-notice.js';
import type { ReleaseRun } from './release-run.js';

/** Reminders more often than this would be noise, and Flux drops repeats within five minutes anyway. */
const MIN_REMINDER_MS = 60_000;
const MIN_REMINDER_TEXT = '1m';

/** A Temporal duration string (`4h`, `30m`, `2d`, `90 minutes`) in milliseconds, or undefined when it is none. */
export function durationMs(text: string): number | undefined {
  try {
    const ms = msToNumber(text as Parameters<typeof msToNumber>[0]);
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The reminder interval the Pipeline asks for: none when it asks for none, or what is wrong with
 * the annotation. An invalid value is reported, never read as "no reminders".
 */
export function reminderSetting(pipeline: Pipeline): { every?: string; problem?: string } {
  const raw = approvalReminder(pipeline);
  if (raw === undefined) return {};
  const ms = durationMs(raw);
  if (ms === undefined || ms < MIN_REMINDER_MS) {
    return {
      problem:
        `${PipelineAnnotation.approvalReminder}: '${raw.slice(0, 40)}' is not a duration of at least ${MIN_REMINDER_TEXT} ` +
        `(examples: 4h, 30m, 1d); no reminders are sent until it is fixed (it is read when a gate opens)`,
    };
  }
  return { every: raw };
}

/** `2d 4h`, `8h`, `45m`: how long a gate has waited, as a reminder says it. */
export function spokenDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const [days, hours, rest] = [Math.floor(minutes / 1440), Math.floor((minutes % 1440) / 60), minutes % 60];
  const parts = [days > 0 ? `${days}d` : '', hours > 0 ? `${hours}h` : '', rest > 0 ? `${rest}m` : ''].filter((p) => p !== '');
  return parts.length > 0 ? parts.join(' ') : 'less than a minute';
}

/**
 * Waits until `done` or the gate expires, reminding at every multiple of the gate's interval after
 * it opened. Returns what `condition` returns: true when `done`, false when the gate expired.
 */
export async function waitReminding(run: ReleaseRun, gate: PendingGate, done: () => boolean): Promise<boolean> {
  const expiresAt = Date.parse(gate.expiresAt!);
  const everyMs = gate.remindEvery === undefined ? undefined : durationMs(gate.remindEvery);
  for (;;) {
    const remainingMs = Math.max(0, expiresAt - Date.now());
    if (everyMs === undefined) return condition(done, remainingMs);
    const since = Date.parse(gate.since);
    // The first multiple of the interval still ahead; one that passed while the release was busy is skipped.
    const number = Math.floor((Date.now() - since) / everyMs) + 1;
    const remindAt = since + number * everyMs;
    if (remindAt >= expiresAt) return condition(done, remainingMs);
    if (await condition(done, remindAt - Date.now())) return true;
    const { state } = run;
    await run.announce({
      reason: ReleaseNoticeReason.approvalReminder,
      summary:
        `Reminder ${number}: ${state.version} has waited ${spokenDuration(Date.now() - since)} for approval to be promoted into ` +
        `${gate.environment}; the gate expires at ${gate.expiresAt}`,
      environment: gate.environment,
      reminder: number,
    });
  }
}
