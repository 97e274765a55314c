/**
 * In directory mode there is no Kubernetes to hold an Event: the notification is a structured log
 * line (and, through the activity result, part of the workflow's state), and so is each release notice.
 */
import type { Logger } from 'pino';
import { announcementMetadata, type Notifier } from './notifier.js';

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
    announce(a) {
      log.info({ reason: a.reason, ...announcementMetadata(a) }, a.message);
      return Promise.resolve();
    },
  };
}
