/**
 * The release's notices (waiting for approval, reminders, approved, rejected, promoted, failed,
 * expired, superseded), told through every configured notifier. The workflow says what happened;
 * this adds what only the worker knows: the Pipeline's uid, the Temporal UI link and, while a gate
 * waits, how to decide it (the CLI command, the gateway's approval endpoint).
 */
import { ApplicationFailure } from '@temporalio/common';
import { decisionPath } from '../model/decision-path.js';
import { FailureType } from '../model/failures.js';
import { clip } from '../model/release-limits.js';
import { type ReleaseNotice, ReleaseNoticeReason } from '../model/release-notice.js';
import { type TemporalUiLocation, workflowUrl } from '../model/temporal-ui.js';
import type { PipelineSource } from '../pipelines/source.js';
import type { Notifier, ReleaseAnnouncement } from './notify/notifier.js';

export interface ReleaseNoticeSettings {
  /** Where the Temporal UI shows the release; absent, notices carry no link to it. */
  temporalUi?: TemporalUiLocation;
  /** The gateway as approvers reach it (`BATON_GATEWAY_URL`); absent, notices name no approval endpoint. */
  gatewayUrl?: string;
}

/** What a notice quotes of the workflow's summary (which may quote a failure or a comment). */
const MAX_SUMMARY_CHARS = 600;

/** A word the shell reads as typed: Kubernetes names and most versions need no quotes. */
function shellWord(word: string): string {
  return /^[\w.@:/+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The gateway's base URL as notices print it: never with userinfo, a query or a fragment. */
function gatewayBase(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, '');
}

function asksForDecision(notice: ReleaseNotice): notice is ReleaseNotice & { environment: string } {
  const asking: string[] = [ReleaseNoticeReason.awaitingApproval, ReleaseNoticeReason.approvalReminder];
  return asking.includes(notice.reason) && notice.environment !== undefined;
}

/** The notice as people read it, with the links and commands it carries as metadata too. */
export function releaseAnnouncement(notice: ReleaseNotice, settings: ReleaseNoticeSettings, uid?: string): ReleaseAnnouncement {
  const details: Record<string, string> = {};
  const lines = [clip(notice.summary, MAX_SUMMARY_CHARS)];
  const temporal = settings.temporalUi === undefined ? undefined : workflowUrl(settings.temporalUi, notice.workflowId);
  if (asksForDecision(notice)) {
    const { pipeline, environment, version } = notice;
    const gateway = settings.gatewayUrl === undefined ? undefined : gatewayBase(settings.gatewayUrl);
    const args =
      [`${pipeline.namespace}/${pipeline.name}`, environment, version].map(shellWord).join(' ') +
      (gateway === undefined ? '' : ` --gateway ${shellWord(gateway)}`);
    details['approve-command'] = `npx baton approve ${args}`;
    lines.push(`Approve: npx baton approve ${args}`, `Reject: npx baton reject ${args}`);
    if (gateway !== undefined) {
      details['approval-url'] = `${gateway}${decisionPath('approve', pipeline, environment, version)}`;
      lines.push(`Approval endpoint: POST ${details['approval-url']} (an OpenID token or an approval key)`);
    }
    if (temporal !== undefined) lines.push(`Temporal UI (More Actions → Send a Signal → approve): ${temporal}`);
  } else if (temporal !== undefined) {
    lines.push(`Temporal UI: ${temporal}`);
  }
  if (temporal !== undefined) details['temporal-url'] = temporal;
  return {
    ...notice,
    pipeline: { ...notice.pipeline, ...(uid === undefined ? {} : { uid }) },
    message: lines.join('\n'),
    details,
  };
}

export function createReleaseNoticeActivities(pipelines: PipelineSource, notifiers: readonly Notifier[], settings: ReleaseNoticeSettings) {
  return {
    async announceRelease(notice: ReleaseNotice): Promise<void> {
      const announcement = releaseAnnouncement(notice, settings, pipelines.getPipeline(notice.pipeline)?.uid);
      // Every notifier gets its chance whatever another does; a retry sends to all of them again,
      // which each one absorbs (the Kubernetes Event's name is fixed, Flux drops the repeat).
      const failures: { notifier: string; error: unknown }[] = [];
      for (const notifier of notifiers) {
        try {
          await notifier.announce(announcement);
        } catch (error) {
          failures.push({ notifier: notifier.name, error });
        }
      }
      if (failures.length === 0) return;
      const what = `the ${notice.reason} notice of ${notice.workflowId} was not sent: ${failures
        .map(({ notifier, error }) => `${notifier}: ${error instanceof Error ? error.message : String(error)}`)
        .join('; ')}`;
      const fixable = failures.every(({ error }) => error instanceof ApplicationFailure && error.nonRetryable);
      if (fixable) throw ApplicationFailure.nonRetryable(what, FailureType.notificationRejected);
      throw new Error(what);
    },
  };
}
