/**
 * A client-node informer (list, then watch) kept connected: client-node gives up after a failure,
 * so this lists and watches again, backing off, until stopped. The Pipeline source and the status
 * controller both keep their caches this way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CustomObjectsApi,
  ERROR,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeKubernetesError, httpStatus } from './kubernetes-errors.js';

export interface CustomResource {
  group: string;
  version: string;
  plural: string;
}

export interface KeptInformerOptions {
  /** What is watched, for the logs: `Pipelines`. */
  what: string;
  /** First wait before listing again after a failure (default 1 s), doubled each failure. */
  reconnectDelayMs?: number;
  /** Longest wait between attempts (default 30 s). */
  maxReconnectDelayMs?: number;
  /**
   * When given, a 404 means the resource's CRD is not installed (yet): this is called, and the list
   * is tried again every `missingRetryMs` without a warning.
   */
  onMissing?: () => void;
  /** How often to look for a missing CRD (default 60 s). */
  missingRetryMs?: number;
  /** What an operator must change after this failure, when retrying cannot fix it. */
  hint?: (error: unknown) => string | undefined;
  /** Called after each successful (re)connection, with the number of attempts it took. */
  onSynced?: (attempts: number) => void;
}

export class KeptInformer<T extends KubernetesObject> {
  readonly informer: Informer<T> & ObjectCache<T>;
  private readonly options: Required<Omit<KeptInformerOptions, 'onMissing' | 'hint' | 'onSynced'>> & KeptInformerOptions;
  private running: AbortController | undefined;
  private connecting: Promise<void> | undefined;
  private synced = false;
  /** Counts the informer's failures, so an attempt can tell whether it failed: the informer reports them by event, not by rejecting. */
  private failures = 0;
  private lastFailure: unknown;

  constructor(
    kubeConfig: KubeConfig,
    resource: CustomResource,
    private readonly log: Logger,
    options: KeptInformerOptions,
  ) {
    this.options = { reconnectDelayMs: 1_000, maxReconnectDelayMs: 30_000, missingRetryMs: 60_000, ...options };
    const api = kubeConfig.makeApiClient(CustomObjectsApi);
    const list = (): Promise<KubernetesListObject<T>> => api.listClusterCustomObject(resource) as Promise<KubernetesListObject<T>>;
    this.informer = makeInformer(kubeConfig, `/apis/${resource.group}/${resource.version}/${resource.plural}`, list);
    this.informer.on(ERROR, (error) => this.onError(error));
  }

  isSynced(): boolean {
    return this.synced;
  }

  /**
   * Starts listing and watching. Resolves once synced (or stopped); with `untilSynced: false`, already
   * after a failed first attempt, the next ones going on in the background.
   */
  async start(options: { untilSynced: boolean }): Promise<void> {
    this.running = new AbortController();
    let firstAttempt!: () => void;
    const attempted = new Promise<void>((resolve) => (firstAttempt = resolve));
    const connected = this.connect(firstAttempt);
    await (options.untilSynced ? connected : Promise.race([connected, attempted]));
  }

  async stop(): Promise<void> {
    this.running?.abort();
    this.synced = false;
    await this.informer.stop();
    await this.connecting;
  }

  private onError(error: unknown): void {
    // stop() aborts the open watch, which the informer reports as an error too.
    if (this.running === undefined || this.running.signal.aborted) return;
    this.failures += 1;
    this.lastFailure = error;
    if (this.synced) this.log.warn({ error: describeKubernetesError(error) }, `the ${this.options.what} watch failed; reconnecting`);
    this.synced = false;
    this.connect().catch((e: unknown) =>
      this.log.error({ error: describeKubernetesError(e) }, `reconnecting the ${this.options.what} watch failed`),
    );
  }

  private connect(afterFirstAttempt?: () => void): Promise<void> {
    this.connecting ??= this.connectUntilSynced(afterFirstAttempt).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connectUntilSynced(afterFirstAttempt?: () => void): Promise<void> {
    const signal = this.running?.signal;
    let delay = this.options.reconnectDelayMs;
    for (let attempt = 1; signal !== undefined && !signal.aborted; attempt += 1) {
      const ok = await this.attempt();
      afterFirstAttempt?.();
      // The informer opens its watch after a list that was in flight when stop() came; close it.
      if (signal.aborted) return this.informer.stop();
      if (ok) {
        this.synced = true;
        this.options.onSynced?.(attempt);
        return;
      }
      const missing = this.options.onMissing !== undefined && httpStatus(this.lastFailure) === 404;
      if (missing) {
        this.options.onMissing?.();
      } else {
        const hint = this.options.hint?.(this.lastFailure);
        this.log.warn(
          { attempt, retryInMs: delay, error: describeKubernetesError(this.lastFailure), ...(hint ? { hint } : {}) },
          `listing or watching ${this.options.what} failed${hint ? `: ${hint}` : ''}; retrying`,
        );
      }
      await sleep(missing ? this.options.missingRetryMs : delay, undefined, { signal }).catch(() => undefined);
      // Polling for a missing CRD is not a failure streak: backing off starts over once it appears.
      delay = missing ? this.options.reconnectDelayMs : Math.min(delay * 2, this.options.maxReconnectDelayMs);
    }
  }

  /** One list (unless the informer can resume from its last resourceVersion) and the opening of a watch. */
  private async attempt(): Promise<boolean> {
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
