/**
 * In directory mode there is no Kubernetes to hold an Event: the notification is a structured log
 * line (and, through the activity result, part of the workflow's state).
 */
import type { Logger } from 'pino';
import type { Notifier } from './notifier.js';

export function createLogNotifier(log: Logger): Notifier {
  return {
    name: 'log',
    notify(n) {
      log.info(
        {
          reason: 'Promote',
          pipeline: `${n.pipeline.namespace}/${n.pipeline.name}`,
          environment: n.targetEnvironment,
          version: n.version,
          workflowId: n.workflowId,
        },
        n.message,
      );
      return Promise.resolve();
    },
  };
}
