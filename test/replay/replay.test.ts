/**
 * Replays committed histories of real releases and claims workflows against today's workflow code.
 * A change that would break running promotions (a reordered activity, a new timer in the middle)
 * fails here first. Record new histories with:
 *   BATON_RECORD_HISTORY=<file> npm test -- test/integration/end-to-end.test.ts
 *   BATON_RECORD_CLAIMS_HISTORY=<file> npm test -- test/workflows/supersede.test.ts
 *   BATON_RECORD_EARLY_DECISION_HISTORY=<file> npm test -- test/workflows/bounded-state.test.ts
 *   BATON_RECORD_POLICY_HISTORY=<file> npm test -- test/gateway/approval-policy.test.ts
 *   BATON_RECORD_DOWNGRADE_HISTORY=<file> npm test -- test/workflows/queue-order.test.ts
 *   BATON_RECORD_FAILURE_HISTORY=<file> npm test -- test/workflows/targets-and-failures.test.ts
 *   BATON_RECORD_WINDOW_HISTORY=<file> npm test -- test/workflows/change-window.test.ts
 *   BATON_RECORD_NOTICES_HISTORY=<file> npm test -- test/workflows/notices.test.ts
 *   BATON_RECORD_PR_HISTORY=<file> npm test -- test/workflows/pull-request-followed.test.ts
 *   BATON_RECORD_SOAK_HISTORY=<file> npm test -- test/workflows/soak-time.test.ts
 *   BATON_RECORD_TRAIN_HISTORY=<file> npm test -- test/workflows/release-train.test.ts
 *   BATON_RECORD_VERIFY_HISTORY=<file> npm test -- test/workflows/verification.test.ts
 * release-early-decision-without-carry-over.json was recorded before that patch: a run that kept an
 * early decision past its history limit without continuing as new.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startTracing } from '../../config/tracing.js';
import { TRACING_WORKFLOW_MODULES, workerTracing } from '../../worker/tracing.js';
import { WORKFLOWS_PATH } from '../../worker/worker.js';

const HISTORIES = new URL('./histories/', import.meta.url);

describe('replaying committed workflow histories', async () => {
  const files = (await readdir(HISTORIES)).filter((f) => f.endsWith('.json'));

  test('there is at least one history to replay', () => {
    assert.ok(files.length > 0);
  });

  const historyOf = async (file: string) => historyFromJSON(JSON.parse(await readFile(new URL(file, HISTORIES), 'utf8')) as unknown);

  for (const file of files) {
    test(`${file} replays without non-determinism`, async () => {
      const history = await historyOf(file);
      assert.ok((history.events?.length ?? 0) > 10, 'the history holds a whole journey');
      await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH, replayName: file }, history, `replay-${file}`);
    });
  }

  // Recorded without tracing: a worker that turns it on takes over these runs, and exports none of
  // the spans a replay makes again.
  test('every history replays with the tracing workflow interceptors too', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await startTracing('baton-worker', { spanProcessor: new SimpleSpanProcessor(exporter) });
    const { sinks } = await workerTracing(tracing);
    const histories = await Promise.all(
      files.map(async (file) => ({ workflowId: `traced-replay-${file}`, history: await historyOf(file) })),
    );
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowsPath: WORKFLOWS_PATH, replayName: 'traced', interceptors: { workflowModules: [...TRACING_WORKFLOW_MODULES] }, sinks },
      histories,
    )) {
      if (result.error !== undefined) failures.push(`${result.workflowId}: ${String(result.error)}`);
    }
    await tracing.shutdown();
    assert.deepEqual(failures, []);
    assert.deepEqual(exporter.getFinishedSpans(), [], 'a replay exports nothing');
  });
});
