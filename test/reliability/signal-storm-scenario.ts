/**
 * A storm of repeated `deployed` events into one release: Flux reporting the same version in dev
 * again and again (a Kustomization reconciling every minute does). Against the worker and gateway
 * processes on a Temporal dev server. Asserted:
 * - every event is delivered (202) and recorded (the release counts the repeats), none lost;
 * - the history stays bounded: the release continues as new, every run of the chain but the last
 *   ends ContinuedAsNew, and no run's history grows much past the limit;
 * - afterwards the release still decides right: test promoted exactly once, the prod gate opens
 *   when test's targets report, one approval promotes into prod exactly once, a second is refused,
 *   and prod's report completes the release.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import protos from '@temporalio/proto';
import { loadConfig } from '../../config/config.js';
import { signApproval } from '../../gateway/hmac.js';
import { createTemporalReleaseStarter } from '../../gateway/release-starter.js';
import { deployedSignal, stateQuery } from '../../model/messages.js';
import { type FluxEvent, deploymentEvent, eventRevision } from '../../model/flux-event.js';
import { ReleasePhase } from '../../model/release.js';
import { RELEASE_LIMITS } from '../../model/release-limits.js';
import { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import type { release } from '../../workflows/release.js';
import { mib } from '../support/measured-processes.js';
import { eventually } from '../support/eventually.js';
import { fixtureBody, FIXTURES } from '../support/events.js';
import { startProcessStack } from '../support/process-stack.js';
import { sendFluxEvent } from '../support/send-flux-event.js';
import { APPROVAL_KEY } from '../support/signing.js';
import { pino } from 'pino';

export interface SignalStormOptions {
  events: number;
  /**
   * `gateway`: signed events over HTTP. `signals`: the gateway's own delivery (signal-with-start)
   * called directly, for a release started with a small `maxHistoryEvents`, so that a short storm
   * continues as new several times.
   */
  via: 'gateway' | 'signals';
  maxHistoryEvents?: number;
  concurrency?: number;
}

const VERSION = '6.7.1';
/**
 * How far past the limit a run may grow before the storm counts as unbounded. What a run takes in
 * while its continue-as-new is refused depends on the machine's load: on a 2-core machine running
 * the whole suite, a 2,000-event storm put 1,793 events past a limit of 300 (13 refusals) in the
 * first run. The number of runs and how each ended are what prove the history bounded.
 */
export const HISTORY_MARGIN = 3000;
const WORKFLOW_ID = `release/flux-system/podinfo-02/${VERSION}`;
const ContinuedAsNew = protos.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW;
const WorkflowTaskFailed = protos.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED;

export async function runSignalStorm(t: TestContext, options: SignalStormOptions): Promise<void> {
  const { events, via } = options;
  const concurrency = options.concurrency ?? 16;
  const limit = options.maxHistoryEvents ?? RELEASE_LIMITS.historyEvents;
  const stack = await startProcessStack();
  const { temporal, gateway, receiver } = stack;
  const log = pino({ level: 'silent' });
  const pipelines = new DirectoryPipelineSource('examples/pipelines', log);
  try {
    await pipelines.start();
    const config = loadConfig({ TEMPORAL_ADDRESS: temporal.address, LOG_LEVEL: 'silent' });
    const starter = createTemporalReleaseStarter(temporal.client, {
      taskQueue: config.temporal.taskQueue,
      policy: { ...config.releasePolicy, maxHistoryEvents: limit },
      namespace: config.temporal.namespace,
      signalTimeoutMs: 60_000,
    });
    const pipeline = pipelines.getPipeline({ namespace: 'flux-system', name: 'podinfo-02' });
    if (pipeline === undefined) throw new Error('the example Pipeline is missing');
    const fluxEvent = JSON.parse(fixtureBody(FIXTURES.upgradeSucceeded).toString('utf8')) as FluxEvent;

    const deliverOne = async (): Promise<void> => {
      if (via === 'gateway') {
        const sent = await sendFluxEvent(gateway.url, 'dev', FIXTURES.upgradeSucceeded);
        assert.equal(sent.status, 202, JSON.stringify(sent.body));
        assert.equal(sent.body.workflowId, WORKFLOW_ID);
        return;
      }
      const receipt = await starter.deliver({
        pipeline,
        version: VERSION,
        environment: 'dev',
        event: deploymentEvent(fluxEvent, eventRevision(fluxEvent) ?? VERSION),
        receivedAt: new Date().toISOString(),
      });
      assert.equal(receipt.workflowId, WORKFLOW_ID);
    };

    const promotes = (environment: string): number =>
      receiver.events.filter(
        (e) =>
          e.reason === 'Promote' &&
          e.metadata['pipelines.weave.works/version'] === VERSION &&
          e.metadata['pipelines.weave.works/environment'] === environment,
      ).length;

    const startMemory = { gateway: await gateway.memory(), worker: await stack.worker.memory() };
    const started = Date.now();
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < events) {
        next += 1;
        await deliverOne();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    const deliverySeconds = (Date.now() - started) / 1000;
    t.diagnostic(`${events} events delivered in ${deliverySeconds.toFixed(1)} s`);

    const handle = temporal.client.workflow.getHandle<typeof release>(WORKFLOW_ID);

    // The release still decides right after the storm.
    await eventually('the promotion into test', () => promotes('test') === 1);
    for (const namespace of ['podinfo-02-qa', 'podinfo-02-perf']) {
      assert.equal((await sendFluxEvent(gateway.url, 'test', FIXTURES.upgradeSucceeded, { namespace })).status, 202);
    }
    await eventually('the prod gate', async () => (await handle.query(stateQuery)).phase === ReleasePhase.awaitingApproval);
    const approve = async (approver: string): Promise<Response> => {
      const path = `/approval/flux-system/podinfo-02/prod/${VERSION}`;
      const body = JSON.stringify({ approver, comment: 'after the storm' });
      return fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signApproval(path, body, APPROVAL_KEY) },
        body,
      });
    };
    const approved = await approve('release-manager@example.com');
    assert.equal(approved.status, 200, await approved.text());
    await eventually('the promotion into prod', () => promotes('prod') === 1);
    const second = await approve('second-opinion@example.com');
    assert.equal(second.status, 422, 'a second decision is refused');
    assert.equal((await sendFluxEvent(gateway.url, 'prod', FIXTURES.upgradeSucceeded, { namespace: 'podinfo-02-prod' })).status, 202);
    const final = await handle.result();
    assert.equal(final.phase, ReleasePhase.completed);
    assert.deepEqual([promotes('test'), promotes('prod')], [1, 1], 'each environment promoted exactly once');
    assert.equal(final.promotions.length, 2);

    // The run chain, walked back from the last run: every run but the last continued as new, none
    // grew much past the limit, and together they hold every event delivered (the storm's and the
    // three reports after it), none lost.
    const runs: { runId: string; events: number; failedTasks: number; ended: string }[] = [];
    let deployedSignals = 0;
    for (let runId: string | undefined = (await handle.describe()).runId; runId !== undefined && runId !== '';) {
      const history: protos.temporal.api.history.v1.IHistory = await temporal.client.workflow.getHandle(WORKFLOW_ID, runId).fetchHistory();
      const historyEvents = history.events ?? [];
      deployedSignals += historyEvents.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === deployedSignal.name).length;
      const last = historyEvents.at(-1)?.eventType;
      const failedTasks = historyEvents.filter((e) => e.eventType === WorkflowTaskFailed).length;
      runs.push({ runId, events: historyEvents.length, failedTasks, ended: last === ContinuedAsNew ? 'continued-as-new' : String(last) });
      runId = historyEvents[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    }
    runs.reverse();
    const longest = Math.max(...runs.map((r) => r.events));
    // Signals keep arriving while a run decides to continue as new, and one arriving while the
    // worker completes the task makes the server refuse the continue-as-new and hand the task
    // back (a WorkflowTaskFailed in the history): a run overshoots the limit by what arrives
    // meanwhile, a few hundred events under a storm on a loaded machine.
    const bound = limit + HISTORY_MARGIN;
    t.diagnostic(JSON.stringify(runs.map(({ events: length, failedTasks, ended }) => ({ length, failedTasks, ended }))));
    assert.ok(runs.length >= 2, `the release continued as new (${runs.length} run)`);
    for (const [index, run] of runs.entries()) {
      assert.ok(run.events <= bound, `run ${index + 1} of ${runs.length} has ${run.events} events; the bound is ${bound}`);
      if (index < runs.length - 1) assert.equal(run.ended, 'continued-as-new', `run ${index + 1} of ${runs.length}`);
    }
    assert.equal(deployedSignals, events + 3, 'every deployed event is in the history of one run');

    const endMemory = { gateway: await gateway.memory(), worker: await stack.worker.memory() };
    const figures = {
      events,
      via,
      historyLimit: limit,
      deliverySeconds: Math.round(deliverySeconds),
      eventsPerSecond: Math.round(events / deliverySeconds),
      runs: runs.length,
      longestRunEvents: longest,
      gatewayRss: {
        start: mib(startMemory.gateway.rssBytes),
        peak: mib(endMemory.gateway.peakRssBytes),
        end: mib(endMemory.gateway.rssBytes),
      },
      workerRss: { start: mib(startMemory.worker.rssBytes), peak: mib(endMemory.worker.peakRssBytes), end: mib(endMemory.worker.rssBytes) },
    };
    t.diagnostic(JSON.stringify(figures));
    console.log(JSON.stringify({ scenario: 'signal-storm', ...figures }));
    assert.equal(gateway.exited(), undefined);
    assert.equal(stack.worker.exited(), undefined);
    assert.deepEqual(gateway.errorLines, []);
    assert.deepEqual(stack.worker.errorLines, []);
  } finally {
    await pipelines.stop();
    await stack.stop();
  }
}
