/**
 * Versions and Temporal's limits: a revision that cannot be a version, or a call Temporal would
 * refuse, is a 422 that says why, and nothing reaches Temporal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { createTemporalReleaseApprover } from '../../gateway/release-approver.js';
import { createTemporalReleaseStarter, type ReleaseStarter } from '../../gateway/release-starter.js';
import { APPROVAL_FAILED_MESSAGE } from '../../gateway/routes/approval.js';
import { TemporalLimitError } from '../../gateway/temporal-calls.js';
import { defaultConfig } from '../../config/config.js';
import { payloadProblem, searchAttributesProblem, TEMPORAL_LIMITS, truncateUtf8, workflowIdProblem } from '../../model/temporal-limits.js';
import { checkRevision, MAX_REVISION_LENGTH } from '../../model/version.js';
import type { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { approvalPath, signedApproval } from '../support/approvals.js';
import { FIXTURES, variant } from '../support/events.js';
import { APPROVAL_KEY } from '../support/signing.js';
import { delivery, directorySource, EXAMPLE_PIPELINES_DIR, PODINFO, testApp, unreachableApprover, unreachableStarter } from './helpers.js';

describe('checkRevision', () => {
  it('accepts the revisions Flux reports and strips build metadata', () => {
    assert.deepEqual(checkRevision('6.7.1'), { ok: true, version: '6.7.1' });
    assert.deepEqual(checkRevision('6.6.1+0cc9a8446c95'), { ok: true, version: '6.6.1' });
    assert.deepEqual(checkRevision('1.0.0-rc.1'), { ok: true, version: '1.0.0-rc.1' });
    const git = 'main@sha1:450796ddb2ab6724ee1cc32a4be56da032d1cca0';
    assert.deepEqual(checkRevision(git), { ok: true, version: git });
    assert.equal(checkRevision('x'.repeat(MAX_REVISION_LENGTH)).ok, true);
  });

  it('refuses a long revision, odd characters, and an empty version', () => {
    assert.match(problem('1'.repeat(MAX_REVISION_LENGTH + 1)), /at most 256/);
    assert.match(problem('+meta'), /empty once its build metadata/);
    assert.match(problem('6.7.1\nforged: line'), /character other than .* \(at position 6\)/);
    assert.match(problem('6.7.1\u0007'), /character other than/);
    assert.match(problem('<b>1</b>'), /character other than/);
    assert.match(problem(''), /empty/);
  });

  function problem(revision: string): string {
    const check = checkRevision(revision);
    assert.equal(check.ok, false, revision);
    return check.ok ? '' : check.problem;
  }
});

describe('Temporal limits', () => {
  it('workflow IDs are at most 1,000 bytes (UTF-8)', () => {
    assert.equal(workflowIdProblem('w'.repeat(TEMPORAL_LIMITS.idBytes)), undefined);
    assert.match(workflowIdProblem('w'.repeat(1259)) ?? '', /1259 bytes long; Temporal accepts at most 1000/);
    assert.match(workflowIdProblem('é'.repeat(501)) ?? '', /1002 bytes/);
  });

  it('search attribute values and their total, payloads', () => {
    assert.equal(searchAttributesProblem({ PromotionVersion: '6.7.1' }), undefined);
    assert.match(searchAttributesProblem({ PromotionVersion: 'v'.repeat(2049) }) ?? '', /PromotionVersion would be 2049 bytes/);
    assert.equal(payloadProblem('the event', { message: 'm'.repeat(1024 * 1024) }), undefined);
    assert.match(payloadProblem('the event', { message: 'm'.repeat(2 * 1024 * 1024) }) ?? '', /the event would be \d+ bytes/);
  });

  it('truncateUtf8 stays within the bytes and never splits a character', () => {
    assert.equal(truncateUtf8('short', 400), 'short');
    const cut = truncateUtf8('é'.repeat(300), 400);
    assert.ok(Buffer.byteLength(cut) <= 400);
    assert.ok(cut.endsWith('…') && !cut.includes('\uFFFD'));
  });
});

describe('the release starter and the approver check the limits before calling Temporal', () => {
  /** A client whose every call fails the test: the checks must come first. */
  const client = {
    options: { namespace: 'default' },
    withAbortSignal: () => assert.fail('Temporal was called'),
    withDeadline: () => assert.fail('Temporal was called'),
    workflow: { getHandle: () => ({}) },
  } as unknown as Client;

  it('an event over the payload limit', async () => {
    const starter = createTemporalReleaseStarter(client, {
      taskQueue: 'q',
      policy: defaultConfig().releasePolicy,
      namespace: 'default',
      signalTimeoutMs: 1000,
    });
    const pipelines = await directorySource(EXAMPLE_PIPELINES_DIR);
    const pipeline = pipelines.getPipeline({ namespace: 'flux-system', name: 'podinfo-02' });
    await pipelines.stop();
    assert.ok(pipeline);
    const event = {
      revision: '6.7.1',
      reason: 'UpgradeSucceeded',
      message: 'm'.repeat(TEMPORAL_LIMITS.payloadBytes),
      timestamp: '2024-01-01T00:00:00Z',
      reportingController: 'helm-controller',
      involvedObject: { kind: 'HelmRelease', namespace: 'podinfo-02-dev', name: 'podinfo' },
    };
    await assert.rejects(
      starter.deliver({ pipeline, version: '6.7.1', environment: 'dev', event, receivedAt: new Date().toISOString() }),
      (error: unknown) => error instanceof TemporalLimitError && /the event would be \d+ bytes/.test(error.message),
    );
  });

  it('a workflow ID over 1,000 bytes', async () => {
    const approver = createTemporalReleaseApprover(client, { timeoutMs: 1000 });
    await assert.rejects(
      approver.approve({
        pipeline: { namespace: 'flux-system', name: 'n'.repeat(1000) },
        version: '6.7.1',
        environment: 'prod',
        approver: 'a',
      }),
      (error: unknown) => error instanceof TemporalLimitError && /workflow ID would be \d+ bytes/.test(error.message),
    );
  });
});

describe('the routes answer 422 and touch no workflow', () => {
  let pipelines: DirectoryPipelineSource;
  let app: FastifyInstance;
  let releases: ReturnType<typeof unreachableStarter>;
  let approvals: ReturnType<typeof unreachableApprover>;

  before(async () => {
    pipelines = await directorySource(EXAMPLE_PIPELINES_DIR);
    releases = unreachableStarter();
    approvals = unreachableApprover();
    app = await testApp({ pipelines, releases, approvals });
  });

  after(async () => {
    await app.close();
    await pipelines.stop();
  });

  const withRevision = (revision: string): Buffer =>
    variant(FIXTURES.upgradeSucceeded, ['"revision":"6.7.1"', `"revision":${JSON.stringify(revision)}`]);

  for (const [what, revision, message] of [
    ['a revision of 1,200 characters', '1'.repeat(1200), /at most 256 are accepted/],
    ['a revision that is only build metadata', '+meta', /empty once its build metadata/],
    ['a revision with a newline', '6.7.1\n\nforged', /character other than/],
    ['a revision with markup', '6.7.1<img src=x>', /character other than/],
  ] as const) {
    it(`${what} → 422 that says why, without quoting it`, async () => {
      const response = await app.inject(delivery(`${PODINFO}/dev`, withRevision(revision)));
      assert.equal(response.statusCode, 422, response.body);
      const body = response.json<{ message: string }>();
      assert.match(body.message, /^event's revision cannot be promoted: /);
      assert.match(body.message, message);
      assert.equal(releases.calls, 0);
    });
  }

  it('a limit the starter reports → 422 with its message', async () => {
    const refusing: ReleaseStarter = {
      deliver: () =>
        Promise.reject(new TemporalLimitError('the event would be 3000000 bytes; Temporal accepts at most 2097152 per payload')),
      deliverFailure: () => Promise.resolve(undefined),
      checkReachable: () => Promise.resolve(),
      drain: () => Promise.resolve(),
    };
    const refusingApp = await testApp({ pipelines, releases: refusing });
    try {
      const response = await refusingApp.inject(delivery(`${PODINFO}/dev`, withRevision('6.7.1')));
      assert.equal(response.statusCode, 422, response.body);
      assert.match(response.json<{ message: string }>().message, /^the event cannot be recorded: the event would be 3000000 bytes/);
    } finally {
      await refusingApp.close();
    }
  });

  for (const [what, revision, reason] of [
    ['only build metadata', '+meta', /empty once its build metadata/],
    ['a control character', '6.7.1\u0007', /character other than/],
  ] as const) {
    it(`an approval of a revision with ${what} → 422 failed approving promotion, with the reason`, async () => {
      const path = approvalPath({ namespace: 'flux-system', name: 'podinfo-02' }, 'prod', revision);
      const response = await app.inject(signedApproval(path, { approver: 'alice@example.com' }, { key: APPROVAL_KEY }));
      assert.equal(response.statusCode, 422, response.body);
      const body = response.json<{ message: string; reason: string }>();
      assert.equal(body.message, APPROVAL_FAILED_MESSAGE);
      assert.match(body.reason, reason);
      assert.equal(approvals.calls, 0);
    });
  }
});
