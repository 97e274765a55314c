/**
 * Wires the activities' dependencies from configuration: the Pipeline source and the notifiers of
 * the notification strategy. The Temporal client is added by the worker, over its own connection.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { ActivityDependencies } from '../activities/index.js';
import { createFluxEventNotifier } from '../activities/notify/flux-event.js';
import { createLogNotifier } from '../activities/notify/log-notifier.js';
import type { Notifier } from '../activities/notify/notifier.js';
import type { PipelineSource } from '../pipelines/source.js';

export async function createNotifiers(config: Config, log: Logger): Promise<Notifier[]> {
  const notifiers: Notifier[] = [];
  if (config.pipelines.kind === 'kubernetes') {
    const [{ createKubernetesEventNotifier }, { loadKubeConfig }] = await Promise.all([
      import('../activities/notify/kubernetes-event.js'),
      import('../pipelines/kube-config.js'),
    ]);
    notifiers.push(createKubernetesEventNotifier(loadKubeConfig(), {}));
  } else {
    notifiers.push(createLogNotifier(log.child({ component: 'notification' })));
  }
  if (config.eventsAddress !== undefined) notifiers.push(createFluxEventNotifier({ address: config.eventsAddress }));
  return notifiers;
}

export async function activityDependencies(
  config: Config,
  pipelines: PipelineSource,
  log: Logger,
): Promise<Omit<ActivityDependencies, 'temporal'>> {
  return { pipelines, notifiers: await createNotifiers(config, log) };
}
