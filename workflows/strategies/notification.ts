/** The notification strategy: tell the configured notifiers; Flux or a person does the rest. */
import type { StrategyFactory } from './strategy.js';

export const notificationStrategy: StrategyFactory = (activities) => ({
  promote: ({ request }) => activities.release.promoteByNotification(request),
});
