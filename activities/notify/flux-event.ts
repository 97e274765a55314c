/**
 * POSTs the promotion as a Flux event to the notification-controller's event receiver, so Alerts on
 * `Pipeline` sources forward it (e.g. to GitHub Actions). Metadata keys carry the involved object's
 * group prefix: the notification-controller drops unprefixed keys, which is why Weave's were lost.
 */
import { hostname } from 'node:os';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../model/failures.js';
import { quoteAnswer } from '../http/quote-answer.js';
import { redactUrl } from '../http/redact-url.js';
import { PIPELINE_API_VERSION, PIPELINE_GROUP, PIPELINE_KIND } from '../../model/pipeline.js';
import type { Notifier, PromotionNotification } from './notifier.js';

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
    },
    reportingController,
    reportingInstance: hostname(),
  };
}

export function createFluxEventNotifier(options: FluxEventNotifierOptions): Notifier {
  const reportingController = options.reportingController ?? 'baton';
  return {
    name: 'flux-event',
    async notify(notification) {
      const response = await fetch(options.address, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(fluxPromotionEvent(notification, reportingController)),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      // The notification-controller answers 429 to an event identical to one it accepted in the last
      // five minutes: for a retried activity that means the first attempt got through.
      if (response.ok || response.status === 429) return;
      const detail = quoteAnswer(await response.text());
      const message = `the notification-controller at ${redactUrl(options.address)} answered ${response.status}: ${detail}`;
      if (response.status >= 400 && response.status < 500) {
        throw ApplicationFailure.nonRetryable(message, FailureType.notificationRejected);
      }
      throw new Error(message);
    },
  };
}
