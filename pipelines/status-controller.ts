/**
 * The Pipeline `Ready` condition as Weave GitOps computed it (DESIGN.md §3.1, issue 4 §3), for
 * Kubernetes mode. For every target with a `clusterRef`, the `GitopsCluster` it names (namespace:
 * the reference's, else the Pipeline's) must exist — else `TargetClusterNotFound` — and be Ready —
 * else `TargetClusterNotReady`; otherwise `ReconciliationSucceeded`. Also keeps
 * `status.observedGeneration` and the `kubectl get` summaries (`environmentNames`,
 * `waitingApprovals`) current.
 *
 * Informers on Pipelines and GitopsClusters feed a queue of Pipeline keys, reconciled one at a time;
 * a GitopsCluster appearing, changing or going away requeues the Pipelines that name it. A status
 * is patched only when it differs, with the object's resourceVersion as precondition (a conflict
 * requeues). Without the GitopsCluster CRD every referenced cluster counts as not found.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ADD,
  CustomObjectsApi,
  DELETE,
  ERROR,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
  UPDATE,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeKubernetesError } from './kube-config.js';
import {
  httpStatus,
  mergePatch,
  PIPELINE_RESOURCE,
  type PipelineStatusObject,
  type StatusCondition,
  waitingApprovalsSummary,
} from './kubernetes-status-writer.js';

export const GITOPS_CLUSTER_RESOURCE = { group: 'gitops.weave.works', version: 'v1alpha1', plural: 'gitopsclusters' } as const;

export const ReadyReason = {
  targetClusterNotFound: 'TargetClusterNotFound',
  targetClusterNotReady: 'TargetClusterNotReady',
  reconciliationSucceeded: 'ReconciliationSucceeded',
} as const;

type PipelineObject = KubernetesObject &
  PipelineStatusObject & {
    spec?: { environments?: { name?: unknown; targets?: { clusterRef?: { name?: unknown; namespace?: unknown } }[] }[] };
  };
type ClusterObject = KubernetesObject & { status?: { conditions?: { type?: string; status?: string }[] } };

export interface PipelineStatusControllerOptions {
  /** First wait before restarting a failed list or watch (default 1 s), doubled up to 30 s. */
  reconnectDelayMs?: number;
  /** Wait before reconciling a Pipeline again after a conflict or an error (default 1 s). */
  requeueDelayMs?: number;
  /** How often to look for the GitopsCluster CRD while it is not installed (default 60 s). */
  missingCrdRetryMs?: number;
  now?: () => Date;
}

const pathOf = (r: { group: string; version: string; plural: string }) => `/apis/${r.group}/${r.version}/${r.plural}`;
const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

interface ClusterKey {
  namespace: string;
  name: string;
}

/** The GitopsClusters a Pipeline's targets name, each once, in spec order. */
export function referencedClusters(pipeline: PipelineObject): ClusterKey[] {
  const seen = new Map<string, ClusterKey>();
  for (const environment of pipeline.spec?.environments ?? []) {
    for (const target of environment.targets ?? []) {
      const ref = target.clusterRef;
      if (ref === undefined || typeof ref.name !== 'string') continue;
      const namespace = typeof ref.namespace === 'string' && ref.namespace !== '' ? ref.namespace : (pipeline.metadata?.namespace ?? '');
      seen.set(keyOf(namespace, ref.name), { namespace, name: ref.name });
    }
  }
  return [...seen.values()];
}

function clusterReady(cluster: ClusterObject): boolean {
  return cluster.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** The Ready condition's status, reason and message, from the clusters the lookup finds. */
export function readyCondition(
  pipeline: PipelineObject,
  lookup: (cluster: ClusterKey) => ClusterObject | undefined,
): Pick<StatusCondition, 'status' | 'reason' | 'message'> {
  for (const ref of referencedClusters(pipeline)) {
    const cluster = lookup(ref);
    if (cluster === undefined) {
      return {
        status: 'False',
        reason: ReadyReason.targetClusterNotFound,
        message: `GitopsCluster ${ref.namespace}/${ref.name} not found`,
      };
    }
    if (!clusterReady(cluster)) {
      return {
        status: 'False',
        reason: ReadyReason.targetClusterNotReady,
        message: `GitopsCluster ${ref.namespace}/${ref.name} is not ready`,
      };
    }
  }
  return { status: 'True', reason: ReadyReason.reconciliationSucceeded, message: 'All target clusters are ready' };
}

function environmentNames(pipeline: PipelineObject): string | undefined {
  const names = (pipeline.spec?.environments ?? []).map((e) => e.name).filter((n): n is string => typeof n === 'string');
  return names.length === 0 ? undefined : names.join(',');
}

/** The status patch that brings `pipeline` up to date, or undefined when it already is. */
export function statusPatch(
  pipeline: PipelineObject,
  lookup: (cluster: ClusterKey) => ClusterObject | undefined,
  now: Date,
): object | undefined {
  const generation = pipeline.metadata?.generation;
  const status = pipeline.status ?? {};
  const conditions = status.conditions ?? [];
  const previous = conditions.find((c) => c.type === 'Ready');
  const ready = readyCondition(pipeline, lookup);
  const patch: Record<string, unknown> = {};

  const conditionChanged =
    previous === undefined ||
    previous.status !== ready.status ||
    previous.reason !== ready.reason ||
    previous.message !== ready.message ||
    (generation !== undefined && previous.observedGeneration !== generation);
  if (conditionChanged) {
    const condition: StatusCondition = {
      type: 'Ready',
      ...ready,
      lastTransitionTime: previous !== undefined && previous.status === ready.status ? previous.lastTransitionTime : now.toISOString(),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
    // A merge patch replaces the whole list: every other condition is kept as it is.
    patch.conditions = [...conditions.filter((c) => c.type !== 'Ready'), condition];
  }
  if (generation !== undefined && status.observedGeneration !== generation) patch.observedGeneration = generation;
  const names = environmentNames(pipeline) ?? null;
  if ((status.environmentNames ?? null) !== names) patch.environmentNames = names;
  const waiting = waitingApprovalsSummary(pipeline) ?? null;
  if ((status.waitingApprovals ?? null) !== waiting) patch.waitingApprovals = waiting;

  if (Object.keys(patch).length === 0) return undefined;
  return { metadata: { resourceVersion: pipeline.metadata?.resourceVersion }, status: patch };
}

/** Keeps an informer listing and watching, restarting it after failures, until `signal` aborts. */
class KeptInformer<T extends KubernetesObject> {
  readonly informer: Informer<T> & ObjectCache<T>;
  private synced = false;
  private restarting: Promise<void> | undefined;
  private failure: unknown;

  constructor(
    private readonly what: string,
    kubeConfig: KubeConfig,
    resource: { group: string; version: string; plural: string },
    private readonly signal: AbortSignal,
    private readonly log: Logger,
    private readonly delays: { reconnectDelayMs: number; missingCrdRetryMs: number },
    private readonly onMissing?: () => void,
  ) {
    const api = kubeConfig.makeApiClient(CustomObjectsApi);
    const list = (): Promise<KubernetesListObject<T>> => api.listClusterCustomObject(resource) as Promise<KubernetesListObject<T>>;
    this.informer = makeInformer(kubeConfig, pathOf(resource), list);
    this.informer.on(ERROR, (error) => {
      if (this.signal.aborted) return;
      this.failure = error;
      this.synced = false;
      this.restarting ??= this.run().finally(() => (this.restarting = undefined));
    });
  }

  isSynced(): boolean {
    return this.synced;
  }

  /** Resolves after the first attempt; a failed one keeps retrying in the background. */
  async start(): Promise<void> {
    if (await this.attempt()) return;
    this.restarting ??= this.run().finally(() => (this.restarting = undefined));
  }

  async stop(): Promise<void> {
    await this.informer.stop();
    await this.restarting;
  }

  private async attempt(): Promise<boolean> {
    this.failure = undefined;
    try {
      await this.informer.start();
    } catch (error) {
      this.failure = error;
    }
    if (this.failure === undefined) {
      this.synced = true;
      return true;
    }
    if (httpStatus(this.failure) === 404) this.onMissing?.();
    return false;
  }

  private async run(): Promise<void> {
    let delay = this.delays.reconnectDelayMs;
    while (!this.signal.aborted) {
      const missing = httpStatus(this.failure) === 404;
      if (!missing)
        this.log.warn({ error: describeKubernetesError(this.failure), retryInMs: delay }, `watching ${this.what} failed; retrying`);
      await sleep(missing ? this.delays.missingCrdRetryMs : delay, undefined, { signal: this.signal }).catch(() => undefined);
      if (this.signal.aborted) break;
      if (await this.attempt()) break;
      // Polling for a missing CRD is not a failure streak: backing off starts over once it appears.
      delay = missing ? this.delays.reconnectDelayMs : Math.min(delay * 2, 30_000);
    }
    if (this.signal.aborted) await this.informer.stop();
  }
}

export class PipelineStatusController {
  private readonly options: Required<Omit<PipelineStatusControllerOptions, 'now'>> & { now: () => Date };
  private readonly api: CustomObjectsApi;
  private readonly running = new AbortController();
  private readonly pipelines: KeptInformer<PipelineObject>;
  private readonly clusters: KeptInformer<ClusterObject>;
  private readonly queue = new Set<string>();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private missingCrdLogged = false;

  constructor(
    kubeConfig: KubeConfig,
    private readonly log: Logger,
    options: PipelineStatusControllerOptions = {},
  ) {
    this.options = { reconnectDelayMs: 1_000, requeueDelayMs: 1_000, missingCrdRetryMs: 60_000, now: () => new Date(), ...options };
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    const delays = { reconnectDelayMs: this.options.reconnectDelayMs, missingCrdRetryMs: this.options.missingCrdRetryMs };
    const signal = this.running.signal;
    this.clusters = new KeptInformer('GitopsClusters', kubeConfig, GITOPS_CLUSTER_RESOURCE, signal, log, delays, () => {
      if (this.missingCrdLogged) return;
      this.missingCrdLogged = true;
      this.log.info(
        'the GitopsCluster CRD (gitops.weave.works) is not installed: targets with a clusterRef count as TargetClusterNotFound',
      );
    });
    this.pipelines = new KeptInformer('Pipelines', kubeConfig, PIPELINE_RESOURCE, signal, log, delays);
    const enqueuePipeline = (object: PipelineObject) => this.enqueue(keyOf(object.metadata?.namespace ?? '', object.metadata?.name ?? ''));
    this.pipelines.informer.on(ADD, enqueuePipeline);
    this.pipelines.informer.on(UPDATE, enqueuePipeline);
    const enqueueReferring = (cluster: ClusterObject) =>
      this.enqueueReferring(keyOf(cluster.metadata?.namespace ?? '', cluster.metadata?.name ?? ''));
    this.clusters.informer.on(ADD, enqueueReferring);
    this.clusters.informer.on(UPDATE, enqueueReferring);
    this.clusters.informer.on(DELETE, enqueueReferring);
  }

  /** Lists GitopsClusters (or finds their CRD missing) before Pipelines, so no verdict is premature. */
  async start(): Promise<void> {
    await this.clusters.start();
    await this.pipelines.start();
    this.loop ??= this.work();
  }

  async stop(): Promise<void> {
    this.running.abort();
    this.wake?.();
    await Promise.all([this.pipelines.stop(), this.clusters.stop()]);
    await this.loop;
  }

  private enqueue(key: string): void {
    this.queue.add(key);
    this.wake?.();
  }

  private enqueueReferring(clusterKey: string): void {
    for (const pipeline of this.pipelines.informer.list()) {
      if (referencedClusters(pipeline).some((c) => keyOf(c.namespace, c.name) === clusterKey)) {
        this.enqueue(keyOf(pipeline.metadata?.namespace ?? '', pipeline.metadata?.name ?? ''));
      }
    }
  }

  private requeueLater(key: string): void {
    void sleep(this.options.requeueDelayMs, undefined, { signal: this.running.signal }).then(
      () => this.enqueue(key),
      () => undefined,
    );
  }

  private async work(): Promise<void> {
    const signal = this.running.signal;
    while (!signal.aborted) {
      const key = this.queue.values().next().value;
      if (key === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      this.queue.delete(key);
      await this.reconcile(key);
    }
  }

  private async reconcile(key: string): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    const pipeline = this.pipelines.informer.get(name, namespace);
    if (pipeline === undefined) return;
    const body = statusPatch(pipeline, (c) => this.clusters.informer.get(c.name, c.namespace), this.options.now());
    if (body === undefined) return;
    try {
      await this.api.patchNamespacedCustomObjectStatus({ ...PIPELINE_RESOURCE, namespace, name, body }, mergePatch());
      this.log.debug({ namespace, name, status: (body as { status: unknown }).status }, 'Pipeline status updated');
    } catch (error) {
      const status = httpStatus(error);
      if (status === 404) return;
      // 409: the object changed since the informer saw it; its newer version is on the way.
      if (status !== 409) this.log.warn({ namespace, name, error: describeKubernetesError(error) }, 'patching the Pipeline status failed');
      this.requeueLater(key);
    }
  }
}
