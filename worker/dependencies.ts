/**
 * Wires the activities' dependencies from configuration: the Pipeline source, the notifiers of
 * the notification strategy and the pull-request strategy's settings. The Temporal client is added
 * by the worker, over its own connection.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { ActivityDependencies, PullRequestSettings } from '../activities/index.js';
import { hostAllowlist, VERIFY_HOSTS_VARIABLE } from '../activities/http/host-allowlist.js';
import { createFluxEventNotifier } from '../activities/notify/flux-event.js';
import { createLogNotifier } from '../activities/notify/log-notifier.js';
import type { ReleaseNoticeSettings } from '../activities/release-notices.js';
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
  return {
    pipelines,
    notifiers: await createNotifiers(config, log),
    ...(await statusWriter(config, log)),
    pullRequests: pullRequestSettings(config),
    decisionKeys: config.decisionKeys,
    notices: noticeSettings(config),
    verification: await verificationSettings(config),
  };
}

/** Verification checks contact the hosts `BATON_VERIFY_HOSTS` allows; in Kubernetes mode they read the management cluster. */
async function verificationSettings(config: Config): Promise<NonNullable<ActivityDependencies['verification']>> {
  const allowedHosts = hostAllowlist(config.verifyHosts, VERIFY_HOSTS_VARIABLE);
  if (config.pipelines.kind !== 'kubernetes') return { allowedHosts };
  const { loadKubeConfig } = await import('../pipelines/kube-config.js');
  return { allowedHosts, kubeConfig: loadKubeConfig() };
}

/** Release notices link to the configured Temporal UI and, when it is public, the gateway. */
export function noticeSettings(config: Config): ReleaseNoticeSettings {
  return {
    temporalUi: { uiUrl: config.temporal.uiUrl, namespace: config.temporal.namespace },
    ...(config.gatewayUrl === undefined ? {} : { gatewayUrl: config.gatewayUrl }),
  };
}

/**
 * Pull requests link to the configured Temporal UI; git and provider URLs must be https, on a host
 * `BATON_GIT_HOSTS` allows (the git step and the provider clients share the one allowlist).
 */
export function pullRequestSettings(config: Config): PullRequestSettings {
  return {
    allowInsecureHttp: false,
    allowedHosts: hostAllowlist(config.gitHosts),
    temporalUiUrl: config.temporal.uiUrl,
    namespace: config.temporal.namespace,
  };
}

/** Kubernetes mode mirrors releases into Pipeline.status; directory mode has no status to write. */
async function statusWriter(config: Config, log: Logger): Promise<Pick<ActivityDependencies, 'statusWriter'>> {
  if (config.pipelines.kind !== 'kubernetes') return {};
  const [{ KubernetesPipelineStatusWriter }, { loadKubeConfig }] = await Promise.all([
    import('../status/kubernetes-status-writer.js'),
    import('../pipelines/kube-config.js'),
  ]);
  return { statusWriter: new KubernetesPipelineStatusWriter(loadKubeConfig(), log.child({ component: 'pipeline-status' })) };
}

/**
 * Kubernetes mode: starts the controller that keeps each Pipeline's Ready condition (from its
 * GitopsClusters) and observedGeneration current. Returns how to stop it; nothing to stop elsewhere.
 */
export async function startStatusController(config: Config, log: Logger): Promise<() => Promise<void>> {
  if (config.pipelines.kind !== 'kubernetes') return () => Promise.resolve();
  const [{ PipelineStatusController }, { loadKubeConfig }] = await Promise.all([
    import('../status/status-controller.js'),
    import('../pipelines/kube-config.js'),
  ]);
  const controller = new PipelineStatusController(loadKubeConfig(), log.child({ component: 'status-controller' }));
  await controller.start();
  return () => controller.stop();
}
