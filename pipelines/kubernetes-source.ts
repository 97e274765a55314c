/**
 * Pipelines from the Kubernetes API. A list + watch of pipelines.weave.works/v1alpha1 in all
 * namespaces keeps an in-memory cache, so resolving a Pipeline on the webhook path never calls the
 * API. Secrets are read one at a time by name — Baton's RBAC needs `get` on Secrets, never `list` or
 * `watch` (which would put every Secret of the cluster in its memory) — and kept for a short TTL.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ADD,
  ApiException,
  CoreV1Api,
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
  type V1Secret,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { PIPELINE_GROUP, type Pipeline, type PipelineRef, pipelineKey } from '../model/pipeline.js';
import type { PipelineSource, SecretData } from './source.js';
import { describeKubernetesError } from './kube-config.js';
import { pipelineFromManifest } from './validate.js';

const PIPELINE_VERSION = 'v1alpha1';
const PIPELINE_PLURAL = 'pipelines';
const PIPELINES_PATH = `/apis/${PIPELINE_GROUP}/${PIPELINE_VERSION}/${PIPELINE_PLURAL}`;

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

function secretData(secret: V1Secret): SecretData {
  const data: Record<string, Buffer> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = Buffer.from(value, 'base64');
  return data;
}

function httpStatus(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** What an operator must change, for the failures retrying cannot fix. */
function listFailureHint(error: unknown): string | undefined {
  const status = httpStatus(error);
  if (status === 401) return "Kubernetes did not accept Baton's credentials: check the service account token or kubeconfig";
  if (status === 403) return `RBAC: baton needs list and watch on ${PIPELINE_PLURAL}.${PIPELINE_GROUP} in all namespaces`;
  if (status === 404) return `the ${PIPELINE_PLURAL}.${PIPELINE_GROUP} CRD is not installed (deploy/crds/)`;
  return undefined;
}

export class KubernetesPipelineSource implements PipelineSource {
  private readonly options: Required<KubernetesPipelineSourceOptions>;
  private readonly core: CoreV1Api;
  private readonly informer: Informer<PipelineObject> & ObjectCache<PipelineObject>;
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly invalid = new Map<string, InvalidPipeline>();
  private readonly secrets = new Map<string, CachedSecret>();
  private synced = false;
  private running: AbortController | undefined;
  private connecting: Promise<void> | undefined;
  /** Counts the informer's failures, so an attempt can tell whether it failed. */
  private failures = 0;
  private lastFailure: unknown;

  constructor(
    kubeConfig: KubeConfig,
    private readonly log: Logger,
    options: KubernetesPipelineSourceOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    const customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
    const listPipelines = (): Promise<KubernetesListObject<PipelineObject>> =>
      customObjects.listClusterCustomObject({
        group: PIPELINE_GROUP,
        version: PIPELINE_VERSION,
        plural: PIPELINE_PLURAL,
      }) as Promise<KubernetesListObject<PipelineObject>>;
    this.informer = makeInformer(kubeConfig, PIPELINES_PATH, listPipelines);
    this.informer.on(ADD, (object) => this.store(object));
    this.informer.on(UPDATE, (object) => this.store(object));
    this.informer.on(DELETE, (object) => this.forget(object));
    this.informer.on(ERROR, (error) => this.onInformerError(error));
  }

  /** Resolves after the first complete list (retrying until then), or when stop() is called first. */
  async start(): Promise<void> {
    this.running = new AbortController();
    await this.connect();
  }

  async stop(): Promise<void> {
    this.running?.abort();
    this.synced = false;
    await this.informer.stop();
    await this.connecting;
    this.secrets.clear();
  }

  isSynced(): boolean {
    return this.synced;
  }

  getPipeline(ref: PipelineRef): Pipeline | undefined {
    return this.pipelines.get(pipelineKey(ref));
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
      if (error instanceof ApiException && error.code === 404) return undefined;
      const hint = error instanceof ApiException && error.code === 403 ? ` (RBAC: baton needs get on secrets in ${namespace})` : '';
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

  private onInformerError(error: unknown): void {
    // stop() aborts the open watch, which the informer reports as an error too.
    if (this.running === undefined || this.running.signal.aborted) return;
    this.failures += 1;
    this.lastFailure = error;
    if (this.synced) this.log.warn({ error: describeKubernetesError(error) }, 'the Pipeline watch failed; reconnecting');
    this.synced = false;
    // The informer gives up after an error (other than an expired resourceVersion); restarting is ours.
    if (this.connecting === undefined) {
      this.connect().catch((e: unknown) => this.log.error({ error: describeKubernetesError(e) }, 'reconnecting the Pipeline watch failed'));
    }
  }

  private connect(): Promise<void> {
    this.connecting ??= this.connectUntilSynced().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connectUntilSynced(): Promise<void> {
    const signal = this.running?.signal;
    let delay = this.options.reconnectDelayMs;
    for (let attempt = 1; signal !== undefined && !signal.aborted; attempt += 1) {
      const ok = await this.attemptSync();
      // The informer opens its watch after a list that was in flight when stop() came; close it.
      if (signal.aborted) return this.informer.stop();
      if (ok) {
        this.synced = true;
        this.log.info({ pipelines: this.pipelines.size, invalid: this.invalid.size, attempt }, 'Pipelines synced from Kubernetes');
        return;
      }
      const hint = listFailureHint(this.lastFailure);
      this.log.warn(
        { attempt, retryInMs: delay, error: describeKubernetesError(this.lastFailure), ...(hint ? { hint } : {}) },
        `listing or watching Pipelines failed${hint ? `: ${hint}` : ''}; retrying`,
      );
      await sleep(delay, undefined, { signal }).catch(() => undefined);
      delay = Math.min(delay * 2, this.options.maxReconnectDelayMs);
    }
  }

  /**
   * One list (unless the informer can resume from its last resourceVersion) and the opening of a
   * watch. The informer reports failures through its error callback, not by rejecting.
   */
  private async attemptSync(): Promise<boolean> {
    const failuresBefore = this.failures;
    try {
      await this.informer.start();
    } catch (error) {
      this.failures += 1;
      this.lastFailure = error;
    }
    return this.failures === failuresBefore;
  }
}
