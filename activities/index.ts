/**
 * All activities, built from their dependencies (samples-typescript's `createActivities(deps)`), so
 * the worker wires real clients and tests replace one member.
 */
import type { PipelineSource } from '../pipelines/source.js';
import { createNotificationActivities } from './notification-strategy.js';
import type { Notifier } from './notify/notifier.js';
import { createPipelineActivities } from './pipelines.js';
import { createPullRequestActivities } from './pull-request-strategy.js';

export interface ActivityDependencies {
  pipelines: PipelineSource;
  notifiers: readonly Notifier[];
}

export function createActivities(deps: ActivityDependencies) {
  return {
    ...createPipelineActivities(deps.pipelines),
    ...createNotificationActivities(deps.pipelines, deps.notifiers),
    ...createPullRequestActivities(),
  };
}
