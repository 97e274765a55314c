/**
 * Pipelines from the Kubernetes API. A list + watch of pipelines.weave.works/v1alpha1 in all
 * namespaces keeps an in-memory cache, so resolving a Pipeline on the webhook path never calls the
 * API. Secrets are read one at a time by name — Baton's RBAC needs `get` on Secrets, never `list` or
 * `watch` (which would put every Secret of the cluster in its memory) — and kept for a short TTL.
 */
import { ADD, CoreV1Api, DELETE, type KubeConfig, type KubernetesObject, UPDATE } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { PIPELINE_GROUP, type Pipeline, type PipelineRef, pipelineKey } from '../model/pipeline.js';
import { KeptInformer } from './kept-informer.js';
import { describeKubernetesError, httpStatus } from './kubernetes-errors.js';
import { type PipelineSource, type SecretData, secretData } from './source.js';
import { pipelineFromManifest } from './validate.js';

/** Baton's Pipelines, as the Kubernetes API serves them. */
export const PIPELINE_RESOURCE = { group: PIPELINE_GROUP, version: 'v1alpha1', plural: 'pipelines' } as const;

export interface KubernetesPipelineSourceOptions {
  /**
   * How long a Secret read, found or missing, is reused (default 30 s): also how long a rotated HMAC
   * key or a newly created Secret takes to apply. Failed reads are not reused.
   */
  secretTtlMs?: number;
  /** First wait before relisting after the list or watch failed (default 1 s), doubled each failure. */
  reconnectDelayMs?: number;
  /** Longest wait between reconnection attempts (default 30 s). */
  maxReconnectDelayMs?: number;
}

const DEFAULTS = { secretTtlMs: 30_000, reconnectDelayMs: 1_000, maxReconnectDelayMs: 30_000 } as const;

type PipelineObject = KubernetesObject & { spec?: unknown };

export interface InvalidPipeline extends PipelineRef {
  problems: string[];
}

interface CachedSecret {
  expiresAt: number;
  data: Promise<SecretData | undefined>;
}

function objectRef(object: KubernetesObject): PipelineRef {
  return { namespace: object.metadata?.namespace ?? '', name: object.metadata?.name ?? '' };
}

/** What an operator must change, for the failures retrying cannot fix. */
function listFailureHint(error: unknown): string | undefined {
  const status = httpStatus(error);
  if (status === 401) return "Kubernetes did not accept Baton's credentials: check the service account token or kubeconfig";
  if (status === 403) return `RBAC: baton needs list and watch on pipelines.${PIPELINE_GROUP} in all namespaces`;
  if (status === 404) return `the pipelines.${PIPELINE_GROUP} CRD is not installed (deploy/crds/)`;
  return undefined;
}

export class KubernetesPipelineSource implements PipelineSource {
  private readonly options: Required<KubernetesPipelineSourceOptions>;
  private readonly core: CoreV1Api;
  private readonly watch: KeptInformer<PipelineObject>;
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly invalid = new Map<string, InvalidPipeline>();
  private readonly secrets = new Map<string, CachedSecret>();

  constructor(
    kubeConfig: KubeConfig,
    private readonly log: Logger,
    options: KubernetesPipelineSourceOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.watch = new KeptInformer(kubeConfig, PIPELINE_RESOURCE, log, {
      what: 'Pipelines',
      reconnectDelayMs: this.options.reconnectDelayMs,
      maxReconnectDelayMs: this.options.maxReconnectDelayMs,
      hint: listFailureHint,
      onSynced: (attempt) =>
        this.log.info({ pipelines: this.pipelines.size, invalid: this.invalid.size, attempt }, 'Pipelines synced from Kubernetes'),
    });
    this.watch.informer.on(ADD, (object) => this.store(object));
    this.watch.informer.on(UPDATE, (object) => this.store(object));
    this.watch.informer.on(DELETE, (object) => this.forget(object));
  }

  /** Resolves after the first complete list (retrying until then), or when stop() is called first. */
  start(): Promise<void> {
    return this.watch.start({ untilSynced: true });
  }

  async stop(): Promise<void> {
    await this.watch.stop();
    this.secrets.clear();
  }

  isSynced(): boolean {
    return this.watch.isSynced();
  }

  getPipeline(ref: PipelineRef): Pipeline | undefined {
    return this.pipelines.get(pipelineKey(ref));
  }

  listPipelines(): Pipeline[] {
    return [...this.pipelines.values()];
  }

  /** Pipelines stored in the cluster that Baton ignores, with why: for health reporting and tests. */
  invalidPipelines(): readonly InvalidPipeline[] {
    return [...this.invalid.values()];
  }

  getSecret(namespace: string, name: string): Promise<SecretData | undefined> {
    const key = `${namespace}/${name}`;
    const now = Date.now();
    const cached = this.secrets.get(key);
    if (cached !== undefined && cached.expiresAt > now) return cached.data;
    this.dropExpiredSecrets(now);
    const data = this.readSecret(namespace, name);
    this.secrets.set(key, { expiresAt: now + this.options.secretTtlMs, data });
    // A failed read is not remembered: the next request tries again.
    data.catch(() => {
      if (this.secrets.get(key)?.data === data) this.secrets.delete(key);
    });
    return data;
  }

  private dropExpiredSecrets(now: number): void {
    for (const [key, entry] of this.secrets) if (entry.expiresAt <= now) this.secrets.delete(key);
  }

  private async readSecret(namespace: string, name: string): Promise<SecretData | undefined> {
    try {
      return secretData(await this.core.readNamespacedSecret({ namespace, name }));
    } catch (error) {
      const status = httpStatus(error);
      if (status === 404) return undefined;
      const hint = status === 403 ? ` (RBAC: baton needs get on secrets in ${namespace})` : '';
      throw new Error(`reading Secret ${namespace}/${name} failed: ${describeKubernetesError(error)}${hint}`, { cause: error });
    }
  }

  private store(object: PipelineObject): void {
    const ref = objectRef(object);
    const key = pipelineKey(ref);
    const result = pipelineFromManifest(object);
    if (result.ok) {
      this.pipelines.set(key, result.pipeline);
      this.invalid.delete(key);
      return;
    }
    // The stored object is what the user means now; serving an older valid spec would promote with
    // settings they have already changed.
    this.pipelines.delete(key);
    this.invalid.set(key, { ...ref, problems: result.problems });
    this.log.error({ ...ref, problems: result.problems }, `ignoring invalid Pipeline ${key}: ${result.problems.join('; ')}`);
  }

  private forget(object: PipelineObject): void {
    const key = pipelineKey(objectRef(object));
    this.pipelines.delete(key);
    this.invalid.delete(key);
  }
}
