/**
 * Baton as a production deployment runs it: two gateway processes and two worker processes on one
 * Temporal. 1,000 signed events — 100 versions (of 100 Pipelines), each delivered ten times — are
 * sent at once, spread over both gateways: there are exactly 100 releases and each promotes once
 * (a Promote event at the notification receiver, or a pull request at the GitHub fake). The
 * provider API calls of both workers together stay within BATON_PROVIDER_RATE_LIMIT, which the
 * Temporal server enforces on the provider task queue for all its pollers at once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { stateQuery } from '../model/messages.js';
import type { PipelineRef } from '../model/pipeline.js';
import { ReleasePhase } from '../model/release.js';
import type { release } from '../workflows/release.js';
import { startDevServer } from '../test/infra/temporal.js';
import { type BatonProcess, startGatewayProcess, startWorkerProcess } from '../test/support/baton-processes.js';
import { eventually } from '../test/support/eventually.js';
import { FIXTURES } from '../test/support/events.js';
import { type FluxEventReceiver, startFluxEventReceiver } from '../test/support/flux-event-receiver.js';
import { GITOPS_REPOSITORY, type GitOpsRepository, startGitOpsRepository } from '../test/support/gitops-repository.js';
import { sendFluxEvent, type SentEvent } from '../test/support/send-flux-event.js';

const VERSIONS = 100;
const DELIVERIES_PER_VERSION = 10;
/** Of the 100 Pipelines, these many promote by pull request, the others by notification. */
const BY_PULL_REQUEST = 20;
const REQUESTS_IN_FLIGHT = 16;
/** A 503 ("retry later") is delivered again, as Flux's notification-controller retries a failed POST. */
const ATTEMPTS = 10;
/** Provider API activities per second for the whole deployment. */
const PROVIDER_RATE_LIMIT = 2;
/**
 * What the server lets through at once on top of the rate: each of a task queue's partitions (4 by
 * default) limits its share of the rate with a bucket of one second of it, at least one task, and
 * hands out up to two at once while the limit first reaches it (as measured on the dev server).
 */
const PARTITIONS = 4;
const PROVIDER_BURST = 2 * PARTITIONS * Math.max(Math.ceil(PROVIDER_RATE_LIMIT / PARTITIONS), 1);
/** Below the git step's 30 s heartbeat timeout. */
const HOLD_MS = 20_000;
/** Event times are the server's clock, in whole milliseconds. */
const EVENT_TIME_SLACK_MS = 50;
/**
 * The fake sees an activity's first call after it was handed out, a delay that varies with the
 * worker's load (a busy event loop): the span of all calls at the fake is widened by this much.
 */
const DISPATCH_TO_CALL_JITTER_MS = 3000;
const WEBHOOK_SECRET = fileURLToPath(new URL('../examples/pipelines/podinfo-02-webhook-secret.yaml', import.meta.url));

const pipelineName = (i: number): string => `app-${String(i).padStart(3, '0')}`;
const versionOf = (i: number): string => `3.${i}.0`;
const byPullRequest = (i: number): boolean => i < BY_PULL_REQUEST;

function notificationPipeline(name: string): string {
  return `apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: ${name}, namespace: flux-system}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: podinfo}
  environments:
    - name: dev
      targets: [{namespace: podinfo-02-dev}]
    - name: prod
      targets: [{namespace: podinfo-02-prod}]
  promotion:
    strategy:
      notification: {}
      secretRef: {name: podinfo-02-webhook}
`;
}

/** Delivers as Flux does: again after a 503, waiting what its Retry-After says (at most a second here). */
async function deliver(gatewayUrl: string, pipeline: PipelineRef, version: string): Promise<SentEvent> {
  for (let attempt = 1; ; attempt += 1) {
    const sent = await sendFluxEvent(gatewayUrl, 'dev', FIXTURES.upgradeSucceeded, { pipeline, version });
    if (sent.status !== 503 || attempt === ATTEMPTS) return sent;
    await sleep(Math.min(Number(sent.retryAfter ?? 1), 1) * 1000);
  }
}

/** The deliveries in a random order: duplicates of one version arrive at both gateways, interleaved with others. */
function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * The window of `times` (sorted, ms) with the most calls beyond what a token bucket of `rate` per
 * second and capacity `burst` allows in that window widened by `slackMs`; `excess` ≤ 0 when the
 * rate held everywhere.
 */
function worstWindow(times: number[], rate: number, burst: number, slackMs: number): { excess: number; calls: number; ms: number } {
  let worst = { excess: Number.NEGATIVE_INFINITY, calls: 0, ms: 0 };
  for (let i = 0; i < times.length; i += 1) {
    for (let j = i; j < times.length; j += 1) {
      const ms = times[j]! - times[i]!;
      const excess = j - i + 1 - ((rate * (ms + slackMs)) / 1000 + burst);
      if (excess > worst.excess) worst = { excess, calls: j - i + 1, ms };
    }
  }
  return worst;
}

/** When the server handed out each `openPullRequest` of a release (its last attempt), in ms since the epoch. */
async function providerActivityStarts(handle: WorkflowHandle): Promise<number[]> {
  const scheduled = new Set<string>();
  const starts: number[] = [];
  for (const event of (await handle.fetchHistory()).events ?? []) {
    if (event.activityTaskScheduledEventAttributes?.activityType?.name === 'openPullRequest') scheduled.add(String(event.eventId));
    const started = event.activityTaskStartedEventAttributes;
    if (started != null && scheduled.has(String(started.scheduledEventId))) starts.push(tsToMs(event.eventTime));
  }
  return starts;
}

const relative = (times: number[]): string => times.map((t) => Math.round(t - times[0]!)).join(' ');

describe('replicas: two gateways and two workers on one Temporal', () => {
  let temporal: TestWorkflowEnvironment;
  let receiver: FluxEventReceiver;
  let gitops: GitOpsRepository;
  let pipelinesDir: string;
  const processes: BatonProcess[] = [];
  let gateways: BatonProcess[];
  const taskQueue = `replicas-${process.pid}`;

  before(async () => {
    temporal = await startDevServer();
    receiver = await startFluxEventReceiver();
    const names = Array.from({ length: VERSIONS }, (_, i) => pipelineName(i));
    gitops = await startGitOpsRepository(names.filter((_, i) => byPullRequest(i)));
    pipelinesDir = await mkdtemp(join(tmpdir(), 'baton-replicas-'));
    await writeFile(join(pipelinesDir, 'by-pull-request.yaml'), gitops.manifests);
    await writeFile(
      join(pipelinesDir, 'by-notification.yaml'),
      names
        .filter((_, i) => !byPullRequest(i))
        .map(notificationPipeline)
        .join('---\n'),
    );
    await copyFile(WEBHOOK_SECRET, join(pipelinesDir, 'webhook-secret.yaml'));
    const env = {
      TEMPORAL_ADDRESS: temporal.address,
      BATON_TASK_QUEUE: taskQueue,
      BATON_PIPELINES_DIR: pipelinesDir,
      BATON_EVENTS_ADDRESS: receiver.url,
      BATON_PROVIDER_RATE_LIMIT: String(PROVIDER_RATE_LIMIT),
      BATON_DECISION_KEY: randomBytes(32).toString('base64url'),
      // Per client address: the test is one client sending a thousand events.
      BATON_RATE_LIMIT_MAX: String(10 * VERSIONS * DELIVERIES_PER_VERSION),
      // A thousand signal-with-starts at once on a shared CI machine: slow answers are not what is tested.
      BATON_SIGNAL_TIMEOUT: '30s',
    };
    processes.push(
      ...(await Promise.all([startWorkerProcess(env), startWorkerProcess(env), startGatewayProcess(env), startGatewayProcess(env)])),
    );
    gateways = processes.slice(2);
    holdPushesUntilAllArrived();
  });

  /**
   * Holds the promotion branches' pushes until every pull-request Pipeline's push has arrived, then
   * lets them through together: their provider calls all become due at once, so nothing but the
   * rate limit spaces them out. A push is held at most HOLD_MS: longer, and its activity would miss
   * its heartbeat and be tried again (which only makes the calls less bunched, never a failure).
   */
  function holdPushesUntilAllArrived(): void {
    let held = 0;
    let open!: () => void;
    const allArrived = new Promise<void>((resolve) => (open = resolve));
    gitops.git.setRequestHook(async ({ method, path }) => {
      if (method !== 'POST' || !path.endsWith('/git-receive-pack')) return;
      held += 1;
      if (held === 1) setTimeout(open, HOLD_MS).unref();
      if (held >= BY_PULL_REQUEST) open();
      await allArrived;
    });
  }

  after(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await gitops?.close();
    await receiver?.close();
    if (pipelinesDir !== undefined) await rm(pipelinesDir, { recursive: true, force: true });
    await temporal?.teardown();
  });

  test('1,000 deliveries of 100 versions: 100 releases, each promoted once, provider calls within the rate limit', async () => {
    const deliveries = shuffled(
      Array.from({ length: VERSIONS * DELIVERIES_PER_VERSION }, (_, n) => ({ index: n % VERSIONS, gateway: gateways[n % 2]! })),
    );
    const answers: { index: number; sent: SentEvent }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: REQUESTS_IN_FLIGHT }, async () => {
        while (next < deliveries.length) {
          const { index, gateway } = deliveries[next++]!;
          const pipeline = { namespace: 'flux-system', name: pipelineName(index) };
          answers.push({ index, sent: await deliver(gateway.url, pipeline, versionOf(index)) });
        }
      }),
    );

    assert.equal(answers.length, VERSIONS * DELIVERIES_PER_VERSION);
    assert.deepEqual(
      answers.filter((a) => a.sent.status !== 202).map((a) => [a.index, a.sent.status]),
      [],
      'every delivery accepted',
    );
    // Every delivery of a version reached the same run of the same workflow: one release per version.
    const runs = new Map<string, Set<string>>();
    for (const { index, sent } of answers) {
      assert.equal(sent.body.workflowId, `release/flux-system/${pipelineName(index)}/${versionOf(index)}`);
      runs.set(sent.body.workflowId, (runs.get(sent.body.workflowId) ?? new Set()).add(sent.body.runId));
    }
    assert.equal(runs.size, VERSIONS);
    assert.deepEqual(
      [...runs].filter(([, ids]) => ids.size !== 1),
      [],
      'one run per release',
    );

    // Every release promotes into prod, then waits for Flux to report the version there.
    const handles = [...runs.keys()].map((id) => temporal.client.workflow.getHandle<typeof release>(id));
    const states = await Promise.all(
      handles.map((handle) =>
        eventually(
          `${handle.workflowId} to wait for prod`,
          async () => {
            const state = await handle.query(stateQuery);
            return state.phase === ReleasePhase.awaitingDeployment && state.promotions[0]?.completedAt !== undefined && state;
          },
          240_000,
        ),
      ),
    );
    for (const [i, state] of states.entries()) {
      assert.deepEqual(
        state.promotions.map((p) => p.targetEnvironment),
        ['prod'],
        `${handles[i]!.workflowId} promoted once`,
      );
    }

    // Promoted exactly once: one Promote event per notification Pipeline, one pull request per other.
    const promotes = receiver.events.filter((e) => e.reason === 'Promote');
    assert.deepEqual(
      promotes.map((e) => `${e.involvedObject.name} ${e.metadata['pipelines.weave.works/version']}`).sort(),
      Array.from({ length: VERSIONS }, (_, i) => i)
        .filter((i) => !byPullRequest(i))
        .map((i) => `${pipelineName(i)} ${versionOf(i)}`)
        .sort(),
    );
    const pulls = gitops.github.pulls(GITOPS_REPOSITORY);
    assert.deepEqual(
      pulls.map((pull) => pull.title).sort(),
      Array.from({ length: BY_PULL_REQUEST }, (_, i) => `Promote flux-system/${pipelineName(i)} in prod to ${versionOf(i)}`).sort(),
    );
    const creates = gitops.github.http.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/pulls'));
    assert.equal(creates.length, BY_PULL_REQUEST, 'no pull request was asked for twice');
    // Visibility follows a moment later; then it counts exactly one release per version.
    const releases = `TaskQueue = '${taskQueue}' AND WorkflowType = 'release'`;
    await eventually('visibility to list the releases', async () => (await temporal.client.workflow.count(releases)).count >= VERSIONS);
    assert.equal((await temporal.client.workflow.count(releases)).count, VERSIONS, 'exactly one release per version on the cluster');

    // The rate the server holds the provider activities to, where it hands them out to either worker
    // (each one's ActivityTaskStarted), and as the provider sees them: each activity starts by
    // listing the pull requests of its branch.
    const pullRequestReleases = handles.filter((handle) => byPullRequest(Number(/app-(\d+)\//.exec(handle.workflowId)![1])));
    const dispatched = (await Promise.all(pullRequestReleases.map(providerActivityStarts))).flat().sort((a, b) => a - b);
    const called = gitops.github.http.requests
      .filter((r) => r.method === 'GET' && r.path.endsWith('/pulls') && r.query.head !== undefined)
      .map((r) => r.at)
      .sort((a, b) => a - b);
    assert.equal(dispatched.length, BY_PULL_REQUEST);
    assert.ok(called.length >= BY_PULL_REQUEST, 'every provider activity called the provider');
    const worst = worstWindow(dispatched, PROVIDER_RATE_LIMIT, PROVIDER_BURST, EVENT_TIME_SLACK_MS);
    assert.ok(
      worst.excess <= 0,
      `the server handed out ${worst.calls} provider activities within ${worst.ms} ms: more than ${PROVIDER_RATE_LIMIT}/s ` +
        `(burst ${PROVIDER_BURST}) allow; all (ms): ${relative(dispatched)}`,
    );
    const span = called.at(-1)! - called[0]!;
    assert.ok(
      called.length <= (PROVIDER_RATE_LIMIT * (span + DISPATCH_TO_CALL_JITTER_MS)) / 1000 + PROVIDER_BURST,
      `the provider saw ${called.length} calls in ${span} ms: more than ${PROVIDER_RATE_LIMIT}/s allow; all (ms): ${relative(called)}`,
    );
  });
});
