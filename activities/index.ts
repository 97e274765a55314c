/**
 * All activities, built from their dependencies (samples-typescript's `createActivities(deps)`), so
 * the worker wires real clients and tests replace one member.
 */
import type { Client } from '@temporalio/client';
import type { PipelineSource } from '../pipelines/source.js';
import { noStatusWriter, type PipelineStatusWriter } from '../pipelines/status-writer.js';
import { createNotificationActivities } from './notification-strategy.js';
import type { Notifier } from './notify/notifier.js';
import { createPipelineStatusActivities } from './pipeline-status.js';
import { createPipelineActivities } from './pipelines.js';
import { createPullRequestActivities } from './pull-request-strategy.js';
import { createSupersedeActivities } from './supersede.js';

export interface ActivityDependencies {
  pipelines: PipelineSource;
  notifiers: readonly Notifier[];
  /** For telling other releases of the same Pipeline that a newer version took their place. */
  temporal: Client;
  /** Where release progress is mirrored into Pipeline.status; none in directory mode. */
  statusWriter?: PipelineStatusWriter;
}

export function createActivities(deps: ActivityDependencies) {
  return {
    ...createPipelineActivities(deps.pipelines),
    ...createNotificationActivities(deps.pipelines, deps.notifiers),
    ...createPullRequestActivities(),
    ...createSupersedeActivities(deps.temporal),
    ...createPipelineStatusActivities(deps.statusWriter ?? noStatusWriter),
  };
}
