/**
 * POSTs the promotion, and each release notice (waiting for approval, approved, promoted, failed…),
 * as a Flux event about the Pipeline to the notification-controller's event receiver, so Alerts on
 * `Pipeline` sources forward them (to Slack, Teams, GitHub Actions…). Metadata keys carry the
 * involved object's group prefix: the notification-controller drops any other key (which is why
 * Weave's were lost) and strips the prefix when it forwards.
 */
import { hostname } from 'node:os';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../model/failures.js';
import { quoteAnswer } from '../http/quote-answer.js';
import { redactUrl } from '../http/redact-url.js';
import { PIPELINE_API_VERSION, PIPELINE_GROUP, PIPELINE_KIND } from '../../model/pipeline.js';
import { isTrouble } from '../../model/release-notice.js';
import { announcementMetadata, type Notifier, type PromotionNotification, type ReleaseAnnouncement } from './notifier.js';

export const DEFAULT_EVENTS_ADDRESS = 'http://notification-controller.flux-system.svc.cluster.local./';

export interface FluxEventNotifierOptions {
  address: string;
  reportingController?: string;
  timeoutMs?: number;
}

export function fluxPromotionEvent(n: PromotionNotification, reportingController: string) {
  return {
    involvedObject: {
      apiVersion: PIPELINE_API_VERSION,
      kind: PIPELINE_KIND,
      namespace: n.pipeline.namespace,
      name: n.pipeline.name,
      ...(n.pipeline.uid === undefined ? {} : { uid: n.pipeline.uid }),
    },
    severity: 'info',
    timestamp: new Date().toISOString(),
    message: n.message,
    reason: 'Promote',
    metadata: {
      [`${PIPELINE_GROUP}/environment`]: n.targetEnvironment,
      [`${PIPELINE_GROUP}/version`]: n.version,
      [`${PIPELINE_GROUP}/source-environment`]: n.sourceEnvironment,
      [`${PIPELINE_GROUP}/workflow-id`]: n.workflowId,
      ...(n.rollback === undefined
        ? {}
        : { [`${PIPELINE_GROUP}/rollback-by`]: n.rollback.by, [`${PIPELINE_GROUP}/rollback-reason`]: n.rollback.reason }),
    },
    reportingController,
    reportingInstance: hostname(),
  };
}

/**
 * A release notice as a Flux event. The notification-controller drops an event whose involved
 * object, message and revision repeat one it accepted in the last five minutes, so every notice's
 * message differs from the others of its release (reminders are numbered).
 */
export function fluxReleaseEvent(a: ReleaseAnnouncement, reportingController: string) {
  return {
    involvedObject: {
      apiVersion: PIPELINE_API_VERSION,
      kind: PIPELINE_KIND,
      namespace: a.pipeline.namespace,
      name: a.pipeline.name,
      ...(a.pipeline.uid === undefined ? {} : { uid: a.pipeline.uid }),
    },
    severity: isTrouble(a.reason) ? 'error' : 'info',
    timestamp: new Date().toISOString(),
    message: a.message,
    reason: a.reason,
    metadata: Object.fromEntries(Object.entries(announcementMetadata(a)).map(([key, value]) => [`${PIPELINE_GROUP}/${key}`, value])),
    reportingController,
    reportingInstance: hostname(),
  };
}

export function createFluxEventNotifier(options: FluxEventNotifierOptions): Notifier {
  const reportingController = options.reportingController ?? 'baton';
  const post = async (event: object): Promise<void> => {
    let response: Response;
    try {
      response = await fetch(options.address, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      // No answer at all (refused, reset, DNS, timeout): retried. fetch says only "fetch failed";
      // the release's failure has to say which address could not be reached, and why.
      throw new Error(`could not reach the notification-controller at ${redactUrl(options.address)}: ${networkReason(error)}`);
    }
    // The notification-controller answers 429 to an event identical to one it accepted in the last
    // five minutes: for a retried activity that means the first attempt got through.
    if (response.ok || response.status === 429) return;
    const detail = quoteAnswer(await response.text());
    const message = `the notification-controller at ${redactUrl(options.address)} answered ${response.status}: ${detail}`;
    if (response.status >= 400 && response.status < 500) {
      throw ApplicationFailure.nonRetryable(message, FailureType.notificationRejected);
    }
    throw new Error(message);
  };
  return {
    name: 'flux-event',
    notify: (notification) => post(fluxPromotionEvent(notification, reportingController)),
    announce: (announcement) => post(fluxReleaseEvent(announcement, reportingController)),
  };
}

/** "fetch failed: connect ECONNREFUSED 127.0.0.1:9 (ECONNREFUSED)": each message of the cause chain once, bounded. */
function networkReason(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    const part = typeof code === 'string' && !current.message.includes(code) ? `${current.message} (${code})` : current.message;
    if (part && !parts.includes(part)) parts.push(part);
  }
  return quoteAnswer(parts.length > 0 ? parts.join(': ') : String(error), 300);
}
