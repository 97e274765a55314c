/**
 * The real Flux notification-controller, run against the test kube-apiserver, so real Flux matches
 * events to Alerts, signs and delivers them. Its Providers and Alerts have no status and it reads
 * them from a cache, so nothing says when it has seen one: `sync()` asks with a canary, and startup
 * ends with one.
 */
import type { FluxEvent } from '../../model/flux-event.js';
import { freePort } from '../support/free-port.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiextensionsV1Api,
  ApiException,
  CustomObjectsApi,
  type KubeConfig,
  loadYaml,
  PatchStrategy,
  setHeaderOptions,
  type V1CustomResourceDefinition,
  type V1CustomResourceDefinitionVersion,
  type V1JSONSchemaProps,
} from '@kubernetes/client-node';
import { type FluxEventReceiver, startFluxEventReceiver } from '../support/flux-event-receiver.js';
import { serverBinary } from './binaries.js';
import { ensureNamespace, type KubeApiServer } from './kube-apiserver.js';

/** The API the controller's event server reads (Alert and Provider v1beta3 are the stored versions). */
export const FLUX_NOTIFICATION_API = { group: 'notification.toolkit.fluxcd.io', version: 'v1beta3' } as const;

const STARTUP_TIMEOUT_MS = 90_000;
const SYNC_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const LOG_TAIL_LINES = 40;
/** Where `sync()` keeps its canaries, away from the namespaces tests use. */
const CANARY_NAMESPACE = 'baton-notification-canary';

export interface NotificationController {
  /** The event server Flux controllers (and Baton's notifier) POST events to, e.g. `http://127.0.0.1:PORT/`. */
  eventsUrl: string;
  /** The controller's JSON log, kept until `stop()`. */
  logPath: string;
  logTail(lines?: number): Promise<string>;
  /**
   * Resolves once the controller has seen every Alert and Provider written (created, changed or
   * deleted) before the call: a fresh canary Provider and Alert are created after them, and probe
   * events are posted until the canary's notification arrives. Watch events of one resource type
   * arrive in order, so a cache holding the canaries holds everything written before them.
   */
  sync(): Promise<void>;
  stop(): Promise<void>;
}

/** A Flux event as the controller's event server accepts it (fluxcd/pkg/apis/event v1beta1). */
export type FluxEventBody = FluxEvent;

// A test file that crashes must not leave a controller behind holding ports.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function tail(path: string, lines = LOG_TAIL_LINES): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function crdManifests(): Promise<V1CustomResourceDefinition[]> {
  const dir = join(serverBinary('notification-controller-source'), 'config', 'crd', 'bases');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  if (files.length === 0) throw new Error(`no CRDs in ${dir}`);
  // loadYaml maps the YAML onto the client's model (`enum` → `_enum`, `x-kubernetes-*`, `default`);
  // a plain parse would lose those fields when the client serialises the body.
  return Promise.all(files.map(async (f) => loadYaml<V1CustomResourceDefinition>(await readFile(join(dir, f), 'utf8'))));
}

async function waitEstablished(api: ApiextensionsV1Api, name: string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const crd = await api.readCustomResourceDefinition({ name });
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`CRD ${name} not Established: ${JSON.stringify(crd.status?.conditions)}`);
    await sleep(100);
  }
}

/**
 * Creates (or replaces) the controller's CRDs — Alert, Provider, Receiver — from the pinned
 * module's `config/crd/bases/` and waits until the apiserver serves them.
 */
export async function applyNotificationCrds(kubeConfig: KubeConfig): Promise<void> {
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  for (const body of await crdManifests()) {
    const name = body.metadata?.name ?? '';
    try {
      await api.createCustomResourceDefinition({ body });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 409)) throw error;
      const existing = await api.readCustomResourceDefinition({ name });
      body.metadata = { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion };
      await api.replaceCustomResourceDefinition({ name, body });
    }
    await waitEstablished(api, name);
  }
}

/** The enum of `spec.eventSources[].kind` in one version of the Alert CRD, if it has one. */
function eventSourceKinds(version: V1CustomResourceDefinitionVersion): unknown[] | undefined {
  const spec = version.schema?.openAPIV3Schema?.properties?.['spec'];
  const items = spec?.properties?.['eventSources']?.items as V1JSONSchemaProps | undefined;
  // The client maps only the top of a schema onto its model: deeper down `enum` keeps its JSON name.
  const kind: { enum?: unknown[]; _enum?: unknown[] } | undefined = items?.properties?.['kind'];
  return kind?.enum ?? kind?._enum;
}

/**
 * Adds `kind` to the event-source kinds the Alert CRD accepts, with the JSON patch Weave's
 * documentation has users apply (`op: add` on `.../eventSources/items/properties/kind/enum/-`).
 * Weave's patch names `/spec/versions/0` only, which in today's CRD is the deprecated v1beta1; a
 * v1beta3 Alert needs the enum of its own version, so this patches every version that has one.
 */
export async function allowAlertEventSourceKind(kubeConfig: KubeConfig, kind: string): Promise<void> {
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const name = `alerts.${FLUX_NOTIFICATION_API.group}`;
  const crd = await api.readCustomResourceDefinition({ name });
  const operations = crd.spec.versions.flatMap((version, index) => {
    const allowed = eventSourceKinds(version);
    if (allowed === undefined || allowed.includes(kind)) return [];
    const path = `/spec/versions/${index}/schema/openAPIV3Schema/properties/spec/properties/eventSources/items/properties/kind/enum/-`;
    return [{ op: 'add', path, value: kind }];
  });
  if (operations.length === 0) return;
  await api.patchCustomResourceDefinition({ name, body: operations }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
  await waitEstablished(api, name);
}

export type FluxNotificationPlural = 'providers' | 'alerts';

/** Creates a Provider or an Alert (v1beta3) the way `kubectl create` would. */
export async function createFluxNotificationObject(
  kubeConfig: KubeConfig,
  plural: FluxNotificationPlural,
  body: { metadata: { name: string; namespace: string }; spec: Record<string, unknown> },
): Promise<void> {
  const kind = plural === 'providers' ? 'Provider' : 'Alert';
  await kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...FLUX_NOTIFICATION_API,
    plural,
    namespace: body.metadata.namespace,
    body: { apiVersion: `${FLUX_NOTIFICATION_API.group}/${FLUX_NOTIFICATION_API.version}`, kind, ...body },
    fieldValidation: 'Strict',
  });
}

export async function deleteFluxNotificationObject(
  kubeConfig: KubeConfig,
  plural: FluxNotificationPlural,
  namespace: string,
  name: string,
): Promise<void> {
  try {
    await kubeConfig.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ ...FLUX_NOTIFICATION_API, plural, namespace, name });
  } catch (error) {
    if (!(error instanceof ApiException && error.code === 404)) throw error;
  }
}

/** POSTs an event to the controller's event server as a Flux controller does; answers the status. */
export async function postFluxEvent(eventsUrl: string, event: FluxEventBody): Promise<number> {
  const response = await fetch(eventsUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(event),
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer();
  return response.status;
}

function controllerArgs(ports: { events: number; receiver: number; metrics: number; health: number }): string[] {
  return [
    `--events-addr=127.0.0.1:${ports.events}`,
    `--receiverAddr=127.0.0.1:${ports.receiver}`,
    `--metrics-addr=127.0.0.1:${ports.metrics}`,
    `--health-addr=127.0.0.1:${ports.health}`,
    '--watch-all-namespaces=true',
    '--enable-leader-election=false',
    // Flux's default: an Alert in flux-system may name sources in other namespaces.
    '--no-cross-namespace-refs=false',
    '--log-encoding=json',
    '--log-level=debug',
  ];
}

/**
 * Starts the controller against `kube` (its CRDs must be applied: `applyNotificationCrds`) on free
 * loopback ports, and resolves once its event server forwards events through a warm cache.
 */
export async function startNotificationController(kube: KubeApiServer): Promise<NotificationController> {
  const binary = serverBinary('notification-controller');
  const dir = await mkdtemp(join(tmpdir(), 'baton-notification-controller-'));
  const logPath = join(dir, 'notification-controller.log');
  const ports = { events: await freePort(), receiver: await freePort(), metrics: await freePort(), health: await freePort() };
  const eventsUrl = `http://127.0.0.1:${ports.events}/`;

  const log = createWriteStream(logPath, { flags: 'a' });
  // controller-runtime reads the kubeconfig from $KUBECONFIG (the binary has no --kubeconfig flag).
  const child = spawn(binary, controllerArgs(ports), {
    env: { ...process.env, KUBECONFIG: kube.kubeconfigPath, RUNTIME_NAMESPACE: 'flux-system' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let exitedWith: string | undefined;
  const exited = new Promise<void>((resolve) => {
    const done = (how: string): void => {
      exitedWith ??= how;
      running.delete(child);
      log.end();
      resolve();
    };
    child.once('exit', (code, signal) => done(String(code ?? signal)));
    // Spawning failed (e.g. ENOENT): there is no process to wait for.
    child.once('error', (error) => done(`error ${error.message}`));
  });

  let canary: FluxEventReceiver | undefined;
  let canaries = 0;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      if (exitedWith === undefined) {
        child.kill('SIGTERM');
        const grace = new AbortController();
        const killed = sleep(STOP_TIMEOUT_MS, undefined, { signal: grace.signal }).then(
          () => child.kill('SIGKILL'),
          () => undefined,
        );
        await exited;
        grace.abort();
        await killed;
      }
      await canary?.close();
      await rm(dir, { recursive: true, force: true });
    })());

  const failure = async (what: string): Promise<Error> => {
    const reason = exitedWith === undefined ? 'timed out' : `exited with ${exitedWith}`;
    return new Error(`notification-controller ${reason} ${what}; last log lines (${logPath}):\n${await tail(logPath)}`);
  };

  const sync = async (): Promise<void> => {
    if (canary === undefined) throw new Error('the notification-controller is not started');
    canaries += 1;
    const name = `canary-${canaries}`;
    const metadata = { name, namespace: CANARY_NAMESPACE };
    await createFluxNotificationObject(kube.kubeConfig, 'providers', { metadata, spec: { type: 'generic', address: canary.url } });
    await createFluxNotificationObject(kube.kubeConfig, 'alerts', {
      metadata,
      spec: { providerRef: { name }, eventSeverity: 'info', eventSources: [{ kind: 'HelmRelease', name }] },
    });
    try {
      const deadline = Date.now() + SYNC_TIMEOUT_MS;
      for (let probe = 1; ; probe += 1) {
        if (exitedWith !== undefined || Date.now() > deadline) throw await failure(`before forwarding canary ${name}`);
        // A distinct message each time: the controller drops a repeated event for five minutes.
        const status = await postFluxEvent(eventsUrl, {
          involvedObject: { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', namespace: CANARY_NAMESPACE, name },
          severity: 'info',
          timestamp: new Date().toISOString(),
          message: `canary ${name}, probe ${probe}`,
          reason: 'Canary',
          reportingController: 'baton-test',
        }).catch(() => 0);
        // Delivery runs in a goroutine after the 202: give it a moment before the next probe.
        for (let i = 0; i < 10 && status === 202; i += 1) {
          if (canary.events.some((e) => e.involvedObject.name === name)) return;
          await sleep(20);
        }
        await sleep(100);
      }
    } finally {
      await deleteFluxNotificationObject(kube.kubeConfig, 'alerts', CANARY_NAMESPACE, name);
      await deleteFluxNotificationObject(kube.kubeConfig, 'providers', CANARY_NAMESPACE, name);
    }
  };

  try {
    canary = await startFluxEventReceiver();
    await ensureNamespace(kube.kubeConfig, CANARY_NAMESPACE);
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      const ready = await fetch(`http://127.0.0.1:${ports.health}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (exitedWith !== undefined || Date.now() > deadline) throw await failure('before answering /readyz');
      await sleep(200);
    }
    await sync();
    return { eventsUrl, logPath, logTail: (lines) => tail(logPath, lines), sync, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
