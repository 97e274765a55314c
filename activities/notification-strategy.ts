/** The notification strategy: tell every configured notifier about the promotion. */
import type { PipelineSource } from '../pipelines/source.js';
import { type Notifier, promotionMessage } from './notify/notifier.js';
import type { PromotionRequest, PromotionResult } from './promotion-request.js';

export function createNotificationActivities(pipelines: PipelineSource, notifiers: readonly Notifier[]) {
  return {
    async promoteByNotification(request: PromotionRequest): Promise<PromotionResult> {
      const uid = pipelines.getPipeline(request.pipeline)?.uid;
      const notification = { ...request, pipeline: { ...request.pipeline, uid } };
      const message = promotionMessage(notification);
      // Sequential on purpose: a retry after a partial failure re-sends to every notifier, and
      // each one is idempotent (the Kubernetes Event has a deterministic name).
      for (const notifier of notifiers) await notifier.notify({ ...notification, message });
      return { outcome: `notified ${notifiers.map((n) => n.name).join(', ')}: "${message}"` };
    },
  };
}
