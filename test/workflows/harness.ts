/**
 * A release worker on a real Temporal server (time-skipping or dev), with the real activities over
 * the example Pipelines plus a few test Pipelines; only the notifier records instead of calling out,
 * because what it receives is the point of these tests. Next to it, the provider worker serves the
 * git provider task queue (pull-request tests point it at the HTTP fakes).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { pino } from 'pino';
import { defaultConfig, loadConfig } from '../../config/config.js';
import { type ActivityDependencies, createActivities, createProviderActivities } from '../../activities/index.js';
import { deployedSignal, stateQuery } from '../../model/messages.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { type ReleaseInput, type ReleasePhase, type ReleasePolicy, type ReleaseState, releaseWorkflowId } from '../../model/release.js';
import { providerTaskQueueFor } from '../../model/task-queues.js';
import { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { noticeSettings, pullRequestSettings } from '../../worker/dependencies.js';
import { WORKFLOWS_PATH } from '../../worker/worker.js';
import { release } from '../../workflows/release.js';
import { TEST_DECISION_KEY } from '../support/decision-key.js';
import { deployedFromFixture, FIXTURES } from '../support/events.js';
import { eventually } from '../support/eventually.js';
import { openWindows, withoutVerification } from '../support/example-pipelines.js';
import { RecordingNotifier } from '../support/recording-notifier.js';

export const PODINFO: PipelineRef = { namespace: 'flux-system', name: 'podinfo-02' };
export const GUARDED: PipelineRef = { namespace: 'team-a', name: 'guarded' };
/** The example's test environment has two targets; it is reached once both report. */
export const TEST_TARGETS = ['podinfo-02-qa', 'podinfo-02-perf'];
export type ReleaseHandle = WorkflowHandle<typeof release>;
/** Where notices point approvers: the Temporal UI's default address and a public gateway. */
export const NOTICE_SETTINGS = noticeSettings(loadConfig({ BATON_GATEWAY_URL: 'https://baton.example.com/' }));

const TEST_PIPELINES = `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: no-promotion, namespace: team-a}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: api}
  environments:
    - name: dev
      targets: [{namespace: api-dev}]
    - name: prod
      targets: [{namespace: api-prod}]
---
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata:
  name: guarded
  namespace: team-a
  annotations: {promotion.baton.dev/approvers: 'alice@example.com, bob@example.com', promotion.baton.dev/newer-version: queue}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: api}
  environments:
    - name: dev
      targets: [{namespace: api-dev}]
    - name: prod
      targets: [{namespace: api-prod}]
  promotion:
    manual: true
    strategy: {notification: {}}
---
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata:
  name: bad-policy
  namespace: team-a
  annotations: {promotion.baton.dev/required-approvals.prod: two}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: api}
  environments:
    - name: dev
      targets: [{namespace: api-dev}]
    - name: prod
      targets: [{namespace: api-prod}]
  promotion:
    manual: true
    strategy: {notification: {}}
---
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: by-pull-request, namespace: team-a}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: api}
  environments:
    - name: dev
      targets: [{namespace: api-dev}]
    - name: prod
      targets: [{namespace: api-prod}]
  promotion:
    strategy:
      pull-request: {type: github, url: 'https://github.com/example/gitops', baseBranch: main, secretRef: {name: creds}}
`;

/**
 * The example podinfo-02 Pipeline, its windows open and without its verification (which checks
 * `npm start`'s gateway), with extra annotations (e.g. queue mode, an approval timeout).
 */
async function annotatedExample(annotations: Record<string, string>): Promise<string> {
  const example = withoutVerification(openWindows(await readFile('examples/pipelines/podinfo-02.yaml', 'utf8')));
  if (Object.keys(annotations).length === 0) return example;
  const lines = Object.entries(annotations).map(([key, value]) => `    ${key}: '${value}'`);
  // An annotation the example sets already is replaced (a second one would be a duplicate key).
  const without = example
    .split('\n')
    .filter((line) => !Object.keys(annotations).some((key) => line.startsWith(`    ${key}:`)))
    .join('\n');
  // Into the example's own annotations block when it has one (a second block would be a duplicate key).
  const annotated = without.includes('\n  annotations:\n')
    ? without.replace('\n  annotations:\n', `\n  annotations:\n${lines.join('\n')}\n`)
    : example.replace('  namespace: flux-system\nspec:', `  namespace: flux-system\n  annotations:\n${lines.join('\n')}\nspec:`);
  assert.notEqual(annotated, example, 'the example Pipeline got its annotations');
  return annotated;
}

/** An Update refused by the workflow's validator: the reason is the failure's cause. */
export async function refused(update: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(update, (error: unknown) => {
    assert.ok(error instanceof WorkflowUpdateFailedError);
    assert.match(error.cause?.message ?? '', reason);
    return true;
  });
}

export class ReleaseHarness {
  readonly notifier = new RecordingNotifier();
  private worker!: Worker;
  private running!: Promise<void>;
  private providerWorker: Worker | undefined;
  private providerRunning: Promise<void> | undefined;
  private versionCounter = 0;

  private constructor(
    readonly env: TestWorkflowEnvironment,
    private readonly directory: string,
    readonly pipelines: DirectoryPipelineSource,
    readonly taskQueue: string,
    private readonly pullRequests: ActivityDependencies['pullRequests'],
    private readonly overrides: Partial<ReturnType<typeof createActivities>> = {},
  ) {}

  static async start(
    env: TestWorkflowEnvironment,
    options: {
      exampleAnnotations?: Record<string, string>;
      /** More Pipelines and Secrets (YAML documents) next to the test Pipelines. */
      manifests?: string;
      /** The pull-request strategy's settings (e.g. providers pointed at the fakes). */
      pullRequests?: ActivityDependencies['pullRequests'];
      /** A distinct task queue when several harnesses share a server. */
      taskQueue?: string;
      /** Activities that stand in for the real ones (e.g. verification checks whose verdict the test decides). */
      activities?: Partial<ReturnType<typeof createActivities>>;
    } = {},
  ): Promise<ReleaseHarness> {
    const directory = await mkdtemp(join(tmpdir(), 'baton-release-'));
    await writeFile(join(directory, 'examples.yaml'), await annotatedExample(options.exampleAnnotations ?? {}));
    await writeFile(join(directory, 'test-pipelines.yaml'), TEST_PIPELINES);
    if (options.manifests !== undefined) await writeFile(join(directory, 'more-pipelines.yaml'), options.manifests);
    const pipelines = new DirectoryPipelineSource(directory, pino({ level: 'silent' }));
    await pipelines.start();
    const taskQueue = options.taskQueue ?? `release-test-${process.pid}`;
    const harness = new ReleaseHarness(
      env,
      directory,
      pipelines,
      taskQueue,
      options.pullRequests ?? pullRequestSettings(defaultConfig()),
      options.activities,
    );
    await harness.startWorker();
    await harness.startProviderWorker();
    return harness;
  }

  private async startWorker(): Promise<void> {
    this.worker = await Worker.create({
      connection: this.env.nativeConnection,
      taskQueue: this.taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: {
        ...createActivities({
          pipelines: this.pipelines,
          notifiers: [this.notifier],
          temporal: this.env.client,
          pullRequests: this.pullRequests,
          decisionKeys: [TEST_DECISION_KEY],
          notices: NOTICE_SETTINGS,
        }),
        ...this.overrides,
      },
    });
    this.running = this.worker.run();
  }

  /** The worker of the provider task queue (the derived default name), rate-limited like production's. */
  async startProviderWorker(): Promise<void> {
    if (this.providerWorker !== undefined) return;
    this.providerWorker = await Worker.create({
      connection: this.env.nativeConnection,
      taskQueue: providerTaskQueueFor(this.taskQueue),
      activities: createProviderActivities({ pipelines: this.pipelines, pullRequests: this.pullRequests }),
      maxTaskQueueActivitiesPerSecond: 50,
    });
    this.providerRunning = this.providerWorker.run();
  }

  /** No provider calls until `startProviderWorker`: what a release sees while that queue has no worker. */
  async stopProviderWorker(): Promise<void> {
    this.providerWorker?.shutdown();
    await this.providerRunning;
    this.providerWorker = undefined;
    this.providerRunning = undefined;
  }

  /** A new worker process starts from history alone: so does a new Worker here. */
  async restartWorker(): Promise<void> {
    this.worker.shutdown();
    await this.running;
    await this.startWorker();
  }

  async stop(): Promise<void> {
    this.worker.shutdown();
    await this.running;
    await this.stopProviderWorker();
    await this.pipelines.stop();
    await rm(this.directory, { recursive: true, force: true });
  }

  /**
   * Replaces the `manifests` given to `start`, as someone editing Pipelines while releases run would,
   * and waits until the source serves what `served` looks for.
   */
  async replaceManifests(manifests: string, served: (pipelines: DirectoryPipelineSource) => boolean): Promise<void> {
    await writeFile(join(this.directory, 'more-pipelines.yaml'), manifests);
    await eventually('the Pipeline source to reload', () => served(this.pipelines));
  }

  /** Adds a manifest file next to the others and waits until the source serves what `served` looks for. */
  async addManifests(file: string, manifests: string, served: (pipelines: DirectoryPipelineSource) => boolean = () => true): Promise<void> {
    await writeFile(join(this.directory, file), manifests);
    await eventually('the Pipeline source to reload', () => served(this.pipelines));
  }

  reset(): void {
    this.notifier.received.length = 0;
    this.notifier.announced.length = 0;
    this.notifier.failNext(0);
    this.notifier.failNextAnnouncements(0);
  }

  /** Each call promotes a version of its own, so each gets its own release (`policy` overrides the harness's). */
  async startRelease(
    environment: string,
    pipeline = PODINFO,
    namespace?: string | string[],
    policy: Partial<ReleasePolicy> = {},
  ): Promise<{ handle: ReleaseHandle; version: string }> {
    this.versionCounter += 1;
    const version = `6.7.${this.versionCounter}`;
    return { handle: await this.signalRelease(environment, pipeline, version, namespace, policy), version };
  }

  /**
   * What the gateway does for one Flux event: signal-with-start the version's release; with several
   * target namespaces, one event from each.
   */
  async signalRelease(
    environment: string,
    pipeline: PipelineRef,
    version: string,
    namespace?: string | string[],
    overrides: Partial<ReleasePolicy> = {},
  ): Promise<ReleaseHandle> {
    // The defaults, with quick retries and the idle timeout spelled as an operator would (messages quote it).
    const defaults = defaultConfig().releasePolicy;
    const policy = { ...defaults, idleTimeout: '30d', activityRetry: { ...defaults.activityRetry, initialInterval: '10ms' }, ...overrides };
    const input: ReleaseInput = { pipeline, version, policy };
    const [first, ...others]: (string | undefined)[] = Array.isArray(namespace) ? namespace : [namespace];
    const handle = await this.env.client.workflow.signalWithStart(release, {
      workflowId: releaseWorkflowId(pipeline, version),
      taskQueue: this.taskQueue,
      args: [input],
      signal: deployedSignal,
      signalArgs: [deployedFromFixture(FIXTURES.upgradeSucceeded, environment, first)],
    });
    await this.report(
      handle,
      environment,
      others.filter((n) => n !== undefined),
    );
    return handle;
  }

  /** Flux reports the version in each of `namespaces` (targets of `environment`). */
  async report(handle: ReleaseHandle, environment: string, namespaces: string | string[]): Promise<void> {
    for (const namespace of Array.isArray(namespaces) ? namespaces : [namespaces]) {
      await handle.signal(deployedSignal, deployedFromFixture(FIXTURES.upgradeSucceeded, environment, namespace));
    }
  }

  waitForPhase(handle: ReleaseHandle, phase: ReleasePhase): Promise<ReleaseState> {
    return eventually(`the release to reach ${phase}`, async () => {
      const state = await handle.query(stateQuery);
      return state.phase === phase && state;
    });
  }

  /** Until the release has nothing in flight (no pending activity or workflow task); returns its history length. */
  quiescent(handle: ReleaseHandle): Promise<number> {
    return eventually(`${handle.workflowId} to be idle`, async () => {
      const { raw } = await handle.describe();
      if ((raw.pendingActivities?.length ?? 0) > 0 || raw.pendingWorkflowTask) return undefined;
      return (await handle.fetchHistory()).events?.length;
    });
  }

  promotedInto(handle: ReleaseHandle, environment: string): Promise<ReleaseState> {
    return eventually(`the promotion into ${environment}`, async () => {
      const state = await handle.query(stateQuery);
      return state.promotions.some((p) => p.targetEnvironment === environment && p.completedAt !== undefined) && state;
    });
  }
}
