/** The promotion strategies by the name a Pipeline's promotion block selects them with. */
import { StrategyName } from '../../model/pipeline.js';
import { notificationStrategy } from './notification.js';
import { pullRequestStrategy } from './pull-request.js';
import type { StrategyFactory } from './strategy.js';

export const STRATEGIES: Record<StrategyName, StrategyFactory> = {
  [StrategyName.notification]: notificationStrategy,
  [StrategyName.pullRequest]: pullRequestStrategy,
};
