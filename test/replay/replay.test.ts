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
import { WORKFLOWS_PATH } from '../../worker/worker.js';

const HISTORIES = new URL('./histories/', import.meta.url);

describe('replaying committed workflow histories', async () => {
  const files = (await readdir(HISTORIES)).filter((f) => f.endsWith('.json'));

  test('there is at least one history to replay', () => {
    assert.ok(files.length > 0);
  });

  for (const file of files) {
    test(`${file} replays without non-determinism`, async () => {
      const history = historyFromJSON(JSON.parse(await readFile(new URL(file, HISTORIES), 'utf8')) as unknown);
      assert.ok((history.events?.length ?? 0) > 10, 'the history holds a whole journey');
      await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH, replayName: file }, history, `replay-${file}`);
    });
  }
});
