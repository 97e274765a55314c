/**
 * What one environment step costs Temporal: a release of a three-environment Pipeline without gates
 * (notification strategy) on the dev server, from the first Flux event to completion, counted from
 * its history — events, workflow tasks, activities and local activities — in total and per
 * promotion. Prints `{"benchmark":"history-cost","events":…,"perStep":{…}}`.
 */
import { stateQuery } from '../model/messages.js';
import { ReleasePhase } from '../model/release.js';
import { startDevServer } from '../test/infra/temporal.js';
import { ReleaseHarness } from '../test/workflows/harness.js';

const NAMESPACE = 'bench';
const PIPELINE = { namespace: NAMESPACE, name: 'three-steps' };
const MANIFESTS = `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: three-steps, namespace: ${NAMESPACE}}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: app}
  environments:
    - name: dev
      targets: [{namespace: app-dev}]
    - name: test
      targets: [{namespace: app-test}]
    - name: prod
      targets: [{namespace: app-prod}]
  promotion:
    strategy: {notification: {}}
`;

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function runHistoryCostBenchmark(): Promise<void> {
  const env = await startDevServer();
  const harness = await ReleaseHarness.start(env, { manifests: MANIFESTS });
  try {
    const handle = await harness.signalRelease('dev', PIPELINE, '1.0.0', 'app-dev');
    for (const [environment, namespace] of [
      ['test', 'app-test'],
      ['prod', 'app-prod'],
    ] as const) {
      await until(`the promotion into ${environment}`, async () => {
        const state = await handle.query(stateQuery);
        return state.promotions.some((p) => p.targetEnvironment === environment && p.completedAt !== undefined) || undefined;
      });
      await harness.report(handle, environment, namespace);
    }
    await handle.result();
    const state = await handle.query(stateQuery);
    if (state.phase !== ReleasePhase.completed) throw new Error(`the release ended ${state.phase}`);
    const events = (await handle.fetchHistory()).events ?? [];
    const names = events.map((e) => String(e.eventType));
    const workflowTasks = names.filter((n) => n === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED' || n === '6').length;
    const activities = names.filter((n) => n === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED' || n === '10').length;
    const localActivities = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length;
    const steps = state.promotions.length;
    const byType = new Map<string, number>();
    for (const e of events) {
      const name = e.markerRecordedEventAttributes?.markerName ?? String(e.eventType);
      byType.set(name, (byType.get(name) ?? 0) + 1);
    }
    if (process.env.BENCH_VERBOSE !== undefined) console.error(Object.fromEntries(byType));
    console.log(
      JSON.stringify({
        benchmark: 'history-cost',
        promotions: steps,
        events: events.length,
        workflowTasks,
        activities,
        localActivities,
        perStep: {
          events: events.length / steps,
          workflowTasks: workflowTasks / steps,
          activities: activities / steps,
          localActivities: localActivities / steps,
        },
      }),
    );
  } finally {
    await harness.stop();
    await env.teardown();
  }
}
