/**
 * Keeps each Pipeline's Ready condition, observedGeneration and `kubectl get` summaries current
 * (Kubernetes mode). Pipelines and GitopsClusters are watched; a change to either queues the
 * Pipelines concerned, reconciled one at a time; a status is patched only when it differs, on the
 * object's resourceVersion (a conflict requeues). Without the GitopsCluster CRD, clusters count as not found.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ADD, CustomObjectsApi, DELETE, type KubeConfig, UPDATE } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { KeptInformer } from '../pipelines/kept-informer.js';
import { describeKubernetesError, httpStatus } from '../pipelines/kubernetes-errors.js';
import { PIPELINE_RESOURCE } from '../pipelines/kubernetes-source.js';
import { mergePatch } from './pipeline-status.js';
import {
  type ClusterObject,
  GITOPS_CLUSTER_RESOURCE,
  keyOf,
  type PipelineObject,
  referencedClusters,
  statusPatch,
} from './ready-condition.js';

export interface PipelineStatusControllerOptions {
  /** First wait before restarting a failed list or watch (default 1 s), doubled up to 30 s. */
  reconnectDelayMs?: number;
  /** Wait before reconciling a Pipeline again after a conflict or an error (default 1 s). */
  requeueDelayMs?: number;
  /** How often to look for the GitopsCluster CRD while it is not installed (default 60 s). */
  missingCrdRetryMs?: number;
  now?: () => Date;
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
    const delays = { reconnectDelayMs: this.options.reconnectDelayMs, missingRetryMs: this.options.missingCrdRetryMs };
    this.clusters = new KeptInformer(kubeConfig, GITOPS_CLUSTER_RESOURCE, log, {
      what: 'GitopsClusters',
      ...delays,
      onMissing: () => {
        if (this.missingCrdLogged) return;
        this.missingCrdLogged = true;
        this.log.info(
          'the GitopsCluster CRD (gitops.weave.works) is not installed: targets with a clusterRef count as TargetClusterNotFound',
        );
      },
    });
    this.pipelines = new KeptInformer(kubeConfig, PIPELINE_RESOURCE, log, { what: 'Pipelines', ...delays });
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
    await this.clusters.start({ untilSynced: false });
    await this.pipelines.start({ untilSynced: false });
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
